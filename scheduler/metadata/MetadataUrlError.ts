import { redact } from '../redact.js';

/** DRIVETRAIN_METADATA_URL names no database Drivetrain can open; the message quotes it, password redacted. */
export class MetadataUrlError extends Error {
  override readonly name = 'MetadataUrlError';
  /** The URL as given, its password redacted. */
  readonly url: string;

  constructor(
    url: string,
    /** What is wrong with it. */
    readonly reason: string,
  ) {
    super(`'${redact(url)}': ${reason}`);
    this.url = redact(url);
  }
}
