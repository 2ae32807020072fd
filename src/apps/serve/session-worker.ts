/** Worker thread entry: owns one onnxruntime session and runs batches sent by the server. */
import { parentPort } from 'node:worker_threads';
import { isMcmlError } from '../../core/errors.js';
import { createLocalSession, type FromWorker, type Session, type ToWorker } from './session.js';

const port = parentPort;
if (!port) throw new Error('session-worker must run as a worker thread');

let session: Session | undefined;

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

port.on('message', (message: ToWorker) => {
  void handle(message);
});

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'init':
      try {
        session = await createLocalSession(message.path, message.settings);
        send({
          type: 'ready',
          inputs: session.inputs,
          outputs: session.outputs,
          device: session.device,
          ...(session.fallback === undefined ? {} : { fallback: session.fallback }),
        });
      } catch (error) {
        // Expected failures (the CUDA provider cannot load) keep their code across threads.
        send(
          isMcmlError(error)
            ? {
                type: 'init-error',
                message: error.message,
                code: error.code,
                ...(error.hint === undefined ? {} : { hint: error.hint }),
              }
            : { type: 'init-error', message: (error as Error).message },
        );
      }
      return;
    case 'run':
      try {
        if (!session) throw new Error('no session');
        const outputs = (await session.run(message.inputs)).map((t) => ({
          ...t,
          // onnxruntime owns its output buffers; copy them into transferable ones.
          data: t.data.slice(),
        }));
        send(
          { type: 'result', id: message.id, outputs },
          outputs.map((t) => t.data.buffer),
        );
      } catch (error) {
        send({ type: 'run-error', id: message.id, message: (error as Error).message });
      }
      return;
    case 'close':
      await session?.close();
      session = undefined;
      send({ type: 'closed' });
      port!.close();
      return;
  }
}
