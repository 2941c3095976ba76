#!/usr/bin/env node
// The installed `drivetrain` bin: registers tsx so the TypeScript sources (and DAG files) load
// without a build step, then runs the real entry point.
import { register } from 'tsx/esm/api';

register();
await import('./drivetrain.ts');
