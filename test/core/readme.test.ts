/**
 * README.md is the manual (issue 13): short enough to read, and every file it names as the code or the
 * reason behind a behaviour is there, so a behaviour stays one hop away after code moves.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const README = readFileSync(path.join(REPO, 'README.md'), 'utf8');
/** 30 KB: longer, and it is a lab notebook again; the rest belongs in docs/. */
const LIMIT_BYTES = 30 * 1024;
const FOLDERS = ['scheduler/', 'operators/', 'sql/', 'dags/', 'test/', 'bench/', 'bin/', 'demo/', 'source/', 'docs/'];

describe('README.md', () => {
  it('stays under 30 KB', () => {
    expect(Buffer.byteLength(README), 'README.md bytes: move details to docs/').to.be.at.most(LIMIT_BYTES);
  });

  it('names only files and folders that exist, in code spans and in links', () => {
    const spans = [...README.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]).filter((t) => FOLDERS.some((f) => t.startsWith(f)) && !/[*<]/.test(t));
    const links = [...README.matchAll(/\]\(([^)\s#]+)\)/g)].map((m) => m[1]).filter((l) => !/^https?:/.test(l));
    expect(spans.length + links.length, 'paths to check').to.be.above(50);
    expect([...spans, ...links].filter((p) => !existsSync(path.join(REPO, p)))).to.deep.equal([]);
  });
});
