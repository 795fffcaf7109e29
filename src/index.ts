// The core entry: runs in Node, browsers and edge runtimes, so it imports nothing from Node.
export * from './api.js'
export { JsCore } from './core/js-core.js'
