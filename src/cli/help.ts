/** The text of --help: every option, its default, the exit codes. */
import { HASH_ALGORITHMS } from '../hash/hash-algorithms.js';

export function helpText(): string {
  const hashes = HASH_ALGORITHMS.map((h) => h.name).join(', ');
  return `basyn - copy or sync a block device or image file to another, locally or over SSH,
sending only the blocks that changed.

Usage: basyn -l LOCAL -r REMOTE [-h HOST [-p PORT] [-u USER]] [-a PUSH|PULL -m SYNC|COPY] [options]

Devices and host (* mandatory):
 * -l, --local=PATH     Local device or image file (e.g. /dev/sda1)
 * -r, --remote=PATH    Remote device or image file (e.g. /dev/vg_backups/copy-sda1);
                        a leading ~/ is the home of the user opening it (the remote user's)
   -h, --host=HOST      Remote SSH host. Without it the remote device is on this machine,
                        no SSH is used, and basyn compares both devices byte for byte
                        itself. (-h is the host; use --help for this text.)
   -p, --port=PORT      SSH port (default: 22, or what ~/.ssh/config says)
   -u, --user=USER      SSH user (default: the current user, or ~/.ssh/config)
   -e, --rsh=COMMAND    The ssh command to use, with its options, split like a shell
                        would split it but never run by one (e.g. -e "ssh -i key -c
                        aes128-gcm@openssh.com"); -p, -u and -h still apply
       --remote-node=PATH
                        The node program on the remote host (default: node from PATH);
                        without -h, serve the remote device from a local agent run by it
       --sudo           Run the agent through "sudo -n", so a user without rights on
                        the device can use it; fails at once if sudo wants a password

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
       --dry-run        With SYNC: compare, write nothing (not the destination, not the
                        bitmap); print each differing block and the bytes a real run
                        would send; exit 0 if identical, 2 if not.
       --create         When the destination is an image file that is missing, create it
                        with the source size (sparse); when it is smaller, extend it.
                        Zero blocks are then not written where the file reads zeros.

Tuning:
       --hash=NAME      Digest for comparison over SSH and for bitmaps: ${hashes}
                        (default: SHA1; XXH128 is fastest but not cryptographic)
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
       --json           Print one JSON object with the outcome and every figure at the end,
                        and nothing else on stdout (--progress then prints JSON lines)
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
  basyn -l /dev/sda1 -r /dev/sda1 -h 10.0.0.1 -a PUSH -m SYNC -b /var/lib/basyn/sda1.bitmap
`;
}
