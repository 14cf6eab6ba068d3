import { execFileSync } from 'node:child_process'

/**
 * `lsof` field output (`-F`), the portable way to ask what a descriptor is where there is no /proc (macOS). Each line
 * is one field: its first character names it (`f` descriptor, `t` type, `n` name, `P` protocol, `T` TCP info such as
 * `TST=CLOSE_WAIT`); an `f` line starts the next file. Spawning lsof takes tens of milliseconds: only for describing
 * a leak, never on the clean path.
 */
export interface LsofFile {
  fd: string
  type?: string
  name?: string
  protocol?: string
  /** `TST=` of the TCP info: ESTABLISHED, LISTEN, CLOSE_WAIT... */
  tcpState?: string
}

export function parseLsofFields(text: string): LsofFile[] {
  const files: LsofFile[] = []
  let current: LsofFile | undefined
  for (const line of text.split('\n')) {
    if (line === '') continue
    const value = line.slice(1)
    switch (line[0]) {
      case 'p':
        current = undefined
        break
      case 'f':
        current = { fd: value }
        files.push(current)
        break
      case 't':
        if (current) current.type = value
        break
      case 'n':
        if (current) current.name = value
        break
      case 'P':
        if (current) current.protocol = value
        break
      case 'T':
        if (current && value.startsWith('ST=')) current.tcpState = value.slice(3)
        break
    }
  }
  return files
}

/** One descriptor of this process as lsof sees it; undefined when lsof is missing, slow or says nothing. */
export function lsofFile(fd: number): LsofFile | undefined {
  try {
    const text = execFileSync('lsof', ['-nP', '-a', '-p', String(process.pid), '-d', String(fd), '-F', 'ftnPT'], {
      encoding: 'utf8',
      timeout: 2000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    return parseLsofFields(text).find((file) => file.fd === String(fd))
  } catch {
    return undefined
  }
}
