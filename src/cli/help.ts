/** The text of --help: every option, its default, the exit codes. */
import { HASH_ALGORITHMS } from '../hash/hash-algorithms.js';

export function helpText(): string {
  const hashes = HASH_ALGORITHMS.map((h) => h.name).join(', ');
  return `basyn - copy or sync a block device or image file to another, locally or over SSH,
sending only the blocks that changed.

Usage: basyn -l LOCAL -r REMOTE [-h HOST [-p PORT] [-u USER]] [-a PUSH|PULL -m SYNC|COPY] [options]

Devices and host (* mandatory):
 * -l, --local=PATH     Local device or image file (e.g. /dev/sda1)
 * -r, --remote=PATH    Remote device or image file (e.g. /dev/vg_backups/copy-sda1)
   -h, --host=HOST      Remote SSH host. Without it the remote device is on this machine
                        and no SSH is used. (-h is the host; use --help for this text.)
   -p, --port=PORT      SSH port (default: 22, or what ~/.ssh/config says)
   -u, --user=USER      SSH user (default: the current user, or ~/.ssh/config)

What to do:
   -a, --action=ACTION  PUSH: local is the source, remote the destination;
                        PULL: remote is the source, local the destination.
                        Without an action nothing is transferred: both devices are only
                        opened (and compared with --recheck).
 * -m, --mode=MODE      Mandatory with --action:
                        SYNC: compare digests of both devices and send only the blocks
                              that differ;
                        COPY: send every block (best for the first run).
       --recheck        Compare both devices after the action (or alone, without --action);
                        exit 2 if they differ.

Tuning:
       --hash=NAME      Digest for comparison: ${hashes} (default: SHA1)
       --buffer=KIB     Block size in KiB for comparison and transfer (default: 2048)
       --chunk=KIB      Compare a differing block again in chunks of this many KiB and
                        send only the differing chunks (off by default; <= --buffer)
       --zlevel=N       zlib level 0-9 for data on the wire (0: none; default: 9)

Bitmap (SYNC only; the bitmap file is always on the local machine):
   -b, --bitmap=FILE    Compare source digests with those stored in FILE instead of
                        reading the destination; created when missing. With a bitmap the
                        destination (-r for PUSH, -l for PULL) may be omitted: then only
                        the bitmap is brought up to date.
       --reset-bitmap   Start the bitmap afresh: every block is sent, the destination is
                        not read.
       --update-bitmap  Do a normal SYNC (reading both devices) and record the source
                        digests in the bitmap.
       --no-bitmap-check
                        Skip the spot check that reads 8 destination blocks to make sure
                        the bitmap belongs to this destination.
                        With --chunk, the bitmap stores one digest per chunk.

Output:
       --stat           Print a STAT line with sizes, traffic, time and bandwidth
       --verbose        Timestamped lines on stdout about what is being done
       --progress       Progress with rate and ETA on stderr
       --debug          Per-block detail, byte counts and the agent's stderr on stderr
       --help           This text
       --version        The version

Exit codes:
  0  Done; the data is identical (over the synced size).
  1  Command line error (shown). Nothing was opened for writing, nothing changed.
  2  Copy, sync or recheck error (shown). The destination may be partly written.

Examples:
  basyn -l /dev/sda1 -r /dev/sda1 -h 10.0.0.1 -a PUSH -m SYNC --stat
  basyn -l disk.img -r copy.img -a PUSH -m COPY --progress
  basyn -l /dev/sda1 -r /dev/sda1 -h 10.0.0.1 --recheck
  basyn -l /dev/sda1 -r /dev/sda1 -h 10.0.0.1 -a PUSH -m SYNC -b /root/sda1.bitmap
`;
}
