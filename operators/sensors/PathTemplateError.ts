/** A path template names a placeholder that is not one of the data interval's. */
export class PathTemplateError extends Error {
  override readonly name = 'PathTemplateError';
  constructor(
    readonly template: string,
    readonly placeholder: string,
    readonly known: readonly string[],
  ) {
    super(`path template '${template}' has unknown placeholder '{${placeholder}}' (one of ${known.map((k) => `{${k}}`).join(', ')})`);
  }
}
