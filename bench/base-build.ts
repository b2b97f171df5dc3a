/*
 * The gateway at another git ref, built beside the working tree so one bench run can measure both (bench/layers.ts
 * --sections=baseline --base-ref=<ref>): a temporary `git worktree` of the ref, node_modules hard-linked from this
 * checkout (no install; a symbolic link if the two are on different file systems), then its own `npm run build`.
 * remove() takes the worktree away again; it is safe to call twice and from an exit handler (synchronous).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BaseBuild {
  dir: string;
  commit: string;
  remove(): void;
}

export function prepareBaseBuild(root: string, ref: string, log: (m: string) => void): BaseBuild {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const commit = git('rev-parse', '--verify', `${ref}^{commit}`);
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-base-'));
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    try {
      git('worktree', 'remove', '--force', dir);
    } catch {
      // not added, or already gone: the folder and the worktree entry are cleared below
    }
    rmSync(dir, { recursive: true, force: true });
    try {
      git('worktree', 'prune');
    } catch {
      // nothing to prune
    }
  };
  try {
    git('worktree', 'add', '--detach', dir, commit);
    try {
      execFileSync('cp', ['-al', join(root, 'node_modules'), `${dir}/`], { stdio: 'ignore' });
    } catch {
      rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    }
    log(`base ${ref} = ${commit.slice(0, 10)}: building in ${dir}`);
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (e) {
    remove();
    throw e;
  }
  return { dir, commit, remove };
}
