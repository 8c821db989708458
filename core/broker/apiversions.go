package broker

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersions answers with the versions in supported. A version newer than
// ours gets a v0 response with UNSUPPORTED_VERSION and our ranges, so the
// client can retry with a version we know (KIP-511; KafkaApis
// handleApiVersionsRequest).
func (n *Node) apiVersions(req *kmsg.ApiVersionsRequest) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	r := supported[kmsg.ApiVersions.Int16()]
	switch {
	case req.Version > r[1] || req.Version < r[0]:
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
	case req.Version >= 3 && (!validSoftware(req.ClientSoftwareName) || !validSoftware(req.ClientSoftwareVersion)):
		resp.Version = req.Version
		resp.ErrorCode = kerr.InvalidRequest.Code
	default:
		resp.Version = req.Version
	}
	keys := make([]int16, 0, len(supported))
	for k := range supported {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: supported[k][0], MaxVersion: supported[k][1]})
	}
	return resp
}

// validSoftware matches Kafka's [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
// (ApiVersionsRequest.isValid).
func validSoftware(s string) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
