import { NonRetryableError } from './NonRetryableError.js';

/**
 * A sensor's condition was still not met `timeoutS` after its first poke. Its retries are not used:
 * each would wait for the same thing (Airflow's AirflowSensorTimeout).
 */
export class SensorTimeoutError extends NonRetryableError {
  override readonly name = 'SensorTimeoutError';
  constructor(
    readonly taskId: string,
    readonly timeoutS: number,
  ) {
    super(`sensor '${taskId}' timed out: its condition was not met within ${timeoutS}s of its first poke`);
  }
}
