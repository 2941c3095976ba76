/** `drivetrain alerts test`: one sample alert to the configured webhook, to see it arrive. */
import { ConfigError } from '../errors/ConfigError.js';
import type { CliIo } from '../cli/interfaces.js';
import { loadSettings } from '../settings.js';
import { sampleAlert } from './payload.js';
import { postAlert, webhookOrigin } from './webhook.js';

/** POSTs the sample alert; exit 0 on a 2xx, 1 (WebhookError) otherwise, 2 when no webhook is set. */
export async function alertsTestCommand(io: CliIo = {}): Promise<number> {
  const settings = loadSettings({ env: io.env });
  const url = settings.alertWebhookUrl;
  if (!url) throw new ConfigError('DRIVETRAIN_ALERT_WEBHOOK_URL is not set: there is no webhook to send a sample alert to', 'DRIVETRAIN_ALERT_WEBHOOK_URL');
  const status = await postAlert(url, sampleAlert());
  (io.stdout ?? process.stdout).write(`sample alert sent to ${webhookOrigin(url)}: HTTP ${status}\n`);
  return 0;
}
