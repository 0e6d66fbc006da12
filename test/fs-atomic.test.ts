import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { backupDirOf, fsyncDir, recoverDir, replaceDirAtomic, writeFileAtomic, writeFileSynced } from '../src/engine/fs-atomic.js';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-fs-atomic-'));

test('writeFileAtomic creates the parent, replaces an existing file and leaves no temp file', async () => {
  const dir = tmp();
  const file = path.join(dir, 'sub', 'a.png');
  await writeFileAtomic(file, 'first');
  await writeFileAtomic(file, Buffer.from('second'));
  assert.equal(fs.readFileSync(file, 'utf8'), 'second');
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['a.png']);
});

test('writeFileAtomic into a directory that is a file fails and changes nothing', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'f'), 'mine');
  await assert.rejects(writeFileAtomic(path.join(dir, 'f', 'a.png'), 'x'), (e: NodeJS.ErrnoException) => typeof e.code === 'string');
  assert.deepEqual(fs.readdirSync(dir), ['f']);
  assert.equal(fs.readFileSync(path.join(dir, 'f'), 'utf8'), 'mine');
});

test('replaceDirAtomic swaps in the new contents and drops the backup; a failing fill leaves the old directory and no temp', async () => {
  const dir = tmp();
  const target = path.join(dir, 'model');
  await replaceDirAtomic(target, (temp) => writeFileSynced(path.join(temp, 'v'), '1'));
  await replaceDirAtomic(target, (temp) => writeFileSynced(path.join(temp, 'v'), '2'));
  assert.equal(fs.readFileSync(path.join(target, 'v'), 'utf8'), '2');
  assert.deepEqual(fs.readdirSync(dir), ['model']);
  await assert.rejects(
    replaceDirAtomic(target, async (temp) => {
      await writeFileSynced(path.join(temp, 'v'), '3');
      throw new Error('disk full');
    }),
    /disk full/,
  );
  assert.equal(fs.readFileSync(path.join(target, 'v'), 'utf8'), '2');
  assert.deepEqual(fs.readdirSync(dir), ['model']);
});

test('replaceDirAtomic checks the target before writing and before the swap', async () => {
  const dir = tmp();
  const target = path.join(dir, 'model');
  let checks = 0;
  await replaceDirAtomic(target, (temp) => writeFileSynced(path.join(temp, 'v'), '1'), { assertReplaceable: async () => void checks++ });
  assert.equal(checks, 2);
  await assert.rejects(
    replaceDirAtomic(target, (temp) => writeFileSynced(path.join(temp, 'v'), '2'), {
      assertReplaceable: async () => {
        if (++checks === 4) throw new Error('not ours any more');
      },
    }),
    /not ours/,
  );
  assert.equal(fs.readFileSync(path.join(target, 'v'), 'utf8'), '1');
  assert.deepEqual(fs.readdirSync(dir), ['model']);
});

test('a crash after moving the old directory aside is recovered by recoverDir; stale partials are removed by the next write', async () => {
  const dir = tmp();
  const target = path.join(dir, 'model');
  await replaceDirAtomic(target, (temp) => writeFileSynced(path.join(temp, 'v'), '1'));
  fs.mkdirSync(`${target}.partial-99999-dead`);
  await assert.rejects(
    replaceDirAtomic(target, (temp) => writeFileSynced(path.join(temp, 'v'), '2'), {
      onStage: (stage) => {
        if (stage === 'old-moved-aside') throw new Error('power cut');
      },
    }),
    /power cut/,
  );
  assert.equal(fs.existsSync(target), false);
  assert.equal(fs.existsSync(backupDirOf(target)), true);
  assert.equal(await recoverDir(target), true);
  assert.equal(fs.readFileSync(path.join(target, 'v'), 'utf8'), '1');
  assert.deepEqual(fs.readdirSync(dir), ['model']);
  assert.equal(await recoverDir(path.join(dir, 'absent')), false);
});

test('fsyncDir: EINVAL and ENOTSUP (fsync unsupported on directories) pass; EIO and other errors are thrown; the handle is closed either way', async () => {
  const dir = tmp();
  await fsyncDir(dir); // a real directory on a real filesystem
  const failing = (code: string) => {
    const handle = { closed: false, sync: async () => Promise.reject(Object.assign(new Error(`${code}: fsync`), { code })), close: async () => void (handle.closed = true) };
    return handle;
  };
  for (const code of ['EINVAL', 'ENOTSUP', 'EOPNOTSUPP']) {
    const handle = failing(code);
    await fsyncDir(dir, async () => handle);
    assert.ok(handle.closed, code);
  }
  for (const code of ['EIO', 'ENOSPC', 'EROFS']) {
    const handle = failing(code);
    await assert.rejects(fsyncDir(dir, async () => handle), (e: NodeJS.ErrnoException) => e.code === code);
    assert.ok(handle.closed, code);
  }
});
