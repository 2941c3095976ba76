/**
 * Reproduces the Docker image's file system without Docker: the files the Dockerfile's final stage
 * COPYs from the build context (the repo's tracked and unignored files, minus .dockerignore), and a
 * node_modules holding the production dependencies only (what `npm prune --omit=dev` leaves). The
 * copy lives under the OS temp dir, outside the repo, so nothing can resolve the repo's dev packages.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ImageSpec } from './dockerfile.js';

/** The repository root (this file lives in test/ops/). */
export const REPO = path.resolve(import.meta.dirname, '..', '..');

/** Docker's .dockerignore semantics, enough for ours: patterns anchored at the context root, `*`, `**`, `!`. */
export function dockerignoreFilter(contextDir: string): (rel: string) => boolean {
  const file = path.join(contextDir, '.dockerignore');
  if (!existsSync(file)) return () => false;
  const rules = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
      const source = pattern
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) => {
          if (part === '**/' || part === '**') return '(?:.*/)?' + (part === '**' ? '.*' : '');
          if (part === '*') return '[^/]*';
          if (part === '?') return '[^/]';
          return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      return { negate, re: new RegExp(`^${source}$`) };
    });
  return (rel: string) => {
    // A file is excluded when it or any parent directory matches; the last matching rule wins.
    const segments = rel.split('/');
    let ignored = false;
    for (const { negate, re } of rules) {
      for (let n = 1; n <= segments.length; n++) {
        if (re.test(segments.slice(0, n).join('/'))) {
          ignored = !negate;
          break;
        }
      }
    }
    return ignored;
  };
}

/** The build context's files, relative, as a clone would have them (tracked + untracked-but-unignored). */
function contextFiles(contextDir: string): string[] {
  const ignored = dockerignoreFilter(contextDir);
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: contextDir,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return out
    .split('\0')
    .filter((f) => f !== '' && existsSync(path.join(contextDir, f)) && !ignored(f));
}

/** Top-level package directories (`node_modules/x`, `node_modules/@s/x`) of the production dependency tree. */
export function productionPackages(repo: string): string[] {
  // npm ls exits non-zero on mere warnings (extraneous packages); its list is still complete.
  const res = spawnSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: repo, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (!res.stdout) throw new Error(`npm ls --omit=dev failed: ${res.stderr}`);
  const dirs = new Set<string>();
  for (const line of res.stdout.split('\n')) {
    const rel = path.relative(repo, line.trim());
    const seg = rel.split(path.sep);
    if (seg[0] !== 'node_modules' || seg.length < 2) continue;
    dirs.add(seg[1].startsWith('@') ? seg.slice(0, 3).join('/') : seg.slice(0, 2).join('/'));
  }
  return [...dirs].sort();
}

/** Copies a directory tree; hard links when possible (same file system, instant), else a real copy. */
function copyTree(from: string, to: string): void {
  mkdirSync(path.dirname(to), { recursive: true });
  const linked = spawnSync('cp', ['-al', from, to]);
  if (linked.status !== 0) cpSync(from, to, { recursive: true, verbatimSymlinks: true });
}

/**
 * Lays out the image's final-stage file system under `root` (image path `/x` -> `root/x`) and
 * returns the WORKDIR there. Throws, like `docker build` would, when a COPY source does not exist.
 */
export function layOutImage(spec: ImageSpec, root: string, contextDir = REPO): string {
  const files = contextFiles(contextDir);
  const inImage = (p: string): string => path.join(root, p);
  for (const copy of spec.copies) {
    if (copy.from !== undefined) {
      // The only cross-stage copy we know how to reproduce: the build stage's pruned node_modules.
      const [source] = copy.sources;
      if (copy.sources.length !== 1 || path.posix.basename(source) !== 'node_modules') {
        throw new Error(`cannot reproduce COPY --from=${copy.from} ${copy.sources.join(' ')} without Docker`);
      }
      const target = inImage(copy.dest.endsWith('/') ? path.posix.join(copy.dest, 'node_modules') : copy.dest);
      for (const pkg of productionPackages(contextDir)) copyTree(path.join(contextDir, pkg), path.join(target, pkg.slice('node_modules/'.length)));
      continue;
    }
    const multi = copy.sources.length > 1 || copy.dest.endsWith('/');
    for (const source of copy.sources) {
      const rel = path.posix.normalize(source).replace(/^\.\/?/, '').replace(/\/+$/, '');
      const matched = rel === '' ? files : files.filter((f) => f === rel || f.startsWith(`${rel}/`));
      if (matched.length === 0) throw new Error(`COPY source '${source}' is not in the build context: docker build would fail`);
      for (const f of matched) {
        const isSelf = f === rel;
        // COPY file dir/ -> dir/file; COPY dir dest -> dest/<contents>; COPY file dest -> dest.
        const target = isSelf ? (multi ? path.posix.join(copy.dest, path.posix.basename(f)) : copy.dest) : path.posix.join(copy.dest, rel === '' ? f : f.slice(rel.length + 1));
        mkdirSync(path.dirname(inImage(target)), { recursive: true });
        cpSync(path.join(contextDir, f), inImage(target));
      }
    }
  }
  const workdir = inImage(spec.workdir);
  mkdirSync(workdir, { recursive: true });
  return workdir;
}

/** Lists a directory's entries, or [] if it does not exist. */
export function entries(dir: string): string[] {
  return existsSync(dir) && statSync(dir).isDirectory() ? readdirSync(dir) : [];
}

/** A port that was free a moment ago (bound on port 0, then released), for processes that refuse port 0. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
