//go:build js

package room

// In the browser a Client needs ClientConfig.Fetch (wasm/fetch): see
// Fetcher.
func defaultFetcher() Fetcher { return nil }
