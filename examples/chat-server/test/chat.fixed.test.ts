/** The same tests with the ConnectionManager of src/connections.ts. All of them pass with vitest-leaks. */
import { ConnectionManager } from '../src/connections'
import { chatTests } from './chat-tests'

chatTests({ quitting: ConnectionManager, idle: ConnectionManager, shutdown: ConnectionManager })
