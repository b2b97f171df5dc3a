/* Step: the model by name, and the checks that need no upstream: the key's allow-list, existence, lifecycle, approval. */
import { forbidden, modelNotFound, modelRetired } from '../../errors.js';
import { allowsModel, approvalRefusal, isGranted } from '../../services/access.js';
import type { Step } from '../pipeline.js';

export const resolveModel: Step = {
  name: 'resolve-model',
  async before(inv, { catalogue, modelAccess }) {
    const name = inv.modelName;
    const { principal, warnings } = inv.options;
    if (!inv.options.operatorModel && !allowsModel(principal, name)) throw forbidden(`This key may not invoke model "${name}"`);
    const model = await catalogue.resolve(name);
    if (!model) throw modelNotFound(name);
    if (model.row.status === 'RETIRED') throw modelRetired(name);
    if (!inv.options.operatorModel && !isGranted(principal, model.row)) {
      // only a refusal reads the request: an admitted call pays nothing for approvals
      const status = principal.team && modelAccess ? await modelAccess.statusOf(principal.team.id, name) : null;
      throw approvalRefusal(principal, name, status);
    }
    if (model.row.status === 'DEPRECATED') warnings?.push(`Model "${name}" is deprecated and will be retired; move to another model.`);
    inv.model = model;
  },
};
