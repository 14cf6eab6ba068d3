import type { LeakKind } from '../options.js'
import { descriptorsProbe } from './descriptors.js'
import { filesProbe } from './files.js'
import { listenersProbe } from './listeners.js'
import { handlesProbe } from './handles.js'
import type { Probe } from './probe.js'
import { processesProbe } from './processes.js'
import { retainedProbe } from './retained.js'
import { serversProbe } from './servers.js'
import { socketsProbe } from './sockets.js'
import { timersProbe } from './timers.js'
import { udpProbe } from './udp.js'
import { watchersProbe } from './watchers.js'
import { workersProbe } from './workers.js'

/** Every family of resource, one probe each. A new kind of leak is one file and one line here. */
export const PROBES: Record<LeakKind, Probe> = {
  servers: serversProbe,
  sockets: socketsProbe,
  udp: udpProbe,
  timers: timersProbe,
  processes: processesProbe,
  workers: workersProbe,
  watchers: watchersProbe,
  listeners: listenersProbe,
  files: filesProbe,
  descriptors: descriptorsProbe,
  handles: handlesProbe,
  retained: retainedProbe,
}
