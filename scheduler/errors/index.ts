export { ConfigError } from './ConfigError.js';
export { DagDefinitionError } from './DagDefinitionError.js';
export { NonRetryableError } from './NonRetryableError.js';
export { TaskTimeoutError } from './TaskTimeoutError.js';
export { UsageError } from './UsageError.js';
export { LeaseLostError } from './LeaseLostError.js';
export { ShutdownError } from './ShutdownError.js';
