#!/usr/bin/env node
import { cliMain } from '../dist/src/cli/main.js';

cliMain();
