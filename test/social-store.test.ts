import t from 'tap'
import { MemorySocialAccountStore } from '../lib/social/memory-store.js'
import { socialStoreContract } from '../lib/social/store-contract.js'

socialStoreContract(t, 'memory', async () => ({ store: new MemorySocialAccountStore(), userIds: [1, 2, 3], close: async () => {} }))
