/**
 * The size of a block device. stat() reports 0 for one, so the size comes from
 * sysfs: /sys/dev/block/MAJ:MIN/size counts 512-byte sectors whatever the device's
 * logical block size.
 */
import { readFile } from 'node:fs/promises';

/** Splits a Linux dev_t into major and minor numbers (glibc's encoding). */
export function splitDeviceNumber(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

export async function blockDeviceSize(rdev: number, sysRoot = '/sys'): Promise<number> {
  const { major, minor } = splitDeviceNumber(rdev);
  const text = await readFile(`${sysRoot}/dev/block/${major}:${minor}/size`, 'utf8');
  const sectors = Number(text.trim());
  if (!Number.isSafeInteger(sectors) || sectors < 0) {
    throw new Error(`unreadable sector count "${text.trim()}" for block device ${major}:${minor}`);
  }
  return sectors * 512;
}
