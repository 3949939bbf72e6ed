export * as Tokenizer from "./Tokenizer.js"
