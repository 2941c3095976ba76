import { expect } from 'chai';
import { testEnv, useTmpDir } from '../helpers/tmp.js';
import { runCli } from '../scheduler/harness.js';
import { startReceiver, type Receiver } from './receiver.js';

describe('drivetrain alerts test', function () {
  this.timeout(60_000);
  let receiver: Receiver | undefined;
  const tmp = useTmpDir('drivetrain-alerts-cli-', {
    beforeRemove: async () => {
      await receiver?.close();
      receiver = undefined;
    },
  });

  it('POSTs one sample alert to the webhook and names only its origin', async () => {
    receiver = await startReceiver();
    const result = await runCli(['alerts', 'test'], testEnv(tmp.dir, { DRIVETRAIN_ALERT_WEBHOOK_URL: receiver.url }));
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.equal(`sample alert sent to http://127.0.0.1:${receiver.port}: HTTP 200\n`);
    expect(receiver.accepted).to.have.length(1);
    expect(receiver.accepted[0]).to.include({ event: 'task_failed', dag_id: 'drivetrain', task_id: 'alerts_test' });
    expect(receiver.accepted[0].text).to.match(/^\[drivetrain\] task_failed drivetrain\.alerts_test run manual__\S+ try 1\/1: .*sample alert/);
  });

  it('exits 1 with the status when the webhook does not answer 2xx', async () => {
    receiver = await startReceiver({ failFirst: 1 });
    const result = await runCli(['alerts', 'test'], testEnv(tmp.dir, { DRIVETRAIN_ALERT_WEBHOOK_URL: receiver.url }));
    expect(result.code).to.equal(1);
    expect(result.stderr).to.equal(`drivetrain: webhook http://127.0.0.1:${receiver.port}: HTTP 500\n`);
  });

  it('exits 2 in one line naming the variable when no webhook is set', async () => {
    const result = await runCli(['alerts', 'test'], testEnv(tmp.dir));
    expect(result.code).to.equal(2);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.contain('DRIVETRAIN_ALERT_WEBHOOK_URL');
  });
});
