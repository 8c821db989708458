//go:build !js

package room

func defaultFetcher() Fetcher { return HTTPFetcher{} }
