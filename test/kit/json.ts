/**
 * A JSON answer a test reads without declaring its shape (GraphQL data, a REST body, a mock's recorded request):
 * the assertions on it are the check. A test that wants types names the shape instead (`gw.gql<{ viewer: … }>`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the one alias for untyped JSON in tests (see above)
export type AnyJson = any;
