import { descriptorsProbe } from './descriptors.js'
import { filesProbe } from './files.js'
import { listenersProbe } from './listeners.js'
import { handlesProbe } from './handles.js'
import { immediatesProbe } from './immediates.js'
import type { Probe } from '../ledger/ledger.js'
import { portsProbe } from './ports.js'
import { processesProbe } from './processes.js'
import { promiseTimersProbe } from './promise-timers.js'
import { retainedProbe } from './retained.js'
import { serversProbe } from './servers.js'
import { socketsProbe } from './sockets.js'
import { timersProbe } from './timers.js'
import { udpProbe } from './udp.js'
import { watchIteratorsProbe } from './watch-iterators.js'
import { watchersProbe } from './watchers.js'
import { workersProbe } from './workers.js'

/**
 * Every family of resource, one probe each; the option `kinds` turns them on by their `kind` (timers and watchers
 * each have two families). A new kind of leak is one file and one line here.
 */
export const PROBES: readonly Probe[] = [
  serversProbe,
  socketsProbe,
  udpProbe,
  timersProbe,
  immediatesProbe,
  promiseTimersProbe,
  processesProbe,
  workersProbe,
  portsProbe,
  watchersProbe,
  watchIteratorsProbe,
  listenersProbe,
  filesProbe,
  descriptorsProbe,
  handlesProbe,
  retainedProbe,
]
