/** A YAQL parse or evaluation error, with yaql's message. */
export class YaqlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'YaqlError';
  }
}
