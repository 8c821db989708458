package broker

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/group"
)

// describeGroups answers DescribeGroups, each group from its shard; a group
// this broker does not coordinate gets NOT_COORDINATOR.
func (n *Node) describeGroups(req *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		s, err := n.shardFor(id)
		if err != nil {
			g := kmsg.NewDescribeGroupsResponseGroup()
			g.Group, g.ErrorCode = id, n.fail("DescribeGroups", group.OffsetsTopic, -1, err)
			resp.Groups = append(resp.Groups, g)
			continue
		}
		resp.Groups = append(resp.Groups, s.DescribeGroup(id, req.Version))
	}
	return resp
}

// listGroups answers ListGroups with the groups of every partition this
// broker coordinates; clients ask every broker and merge.
func (n *Node) listGroups(req *kmsg.ListGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	c := n.coord()
	for _, idx := range c.shardIndexes() {
		resp.Groups = append(resp.Groups, c.shards[idx].ListGroups(req.StatesFilter, req.TypesFilter)...)
	}
	sort.Slice(resp.Groups, func(i, j int) bool { return resp.Groups[i].Group < resp.Groups[j].Group })
	return resp
}

// deleteGroups answers DeleteGroups once every group's tombstones are
// committed.
func (n *Node) deleteGroups(req *kmsg.DeleteGroupsRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	resp.Groups = make([]kmsg.DeleteGroupsResponseGroup, len(req.Groups))
	waiting := len(req.Groups) + 1 // +1 until every group is handed out
	done := func() {
		if waiting--; waiting == 0 {
			reply(resp)
		}
	}
	for i, id := range req.Groups {
		resp.Groups[i] = kmsg.NewDeleteGroupsResponseGroup()
		resp.Groups[i].Group = id
		s, err := n.shardFor(id)
		if err != nil {
			resp.Groups[i].ErrorCode = n.fail("DeleteGroups", group.OffsetsTopic, -1, err)
			done()
			continue
		}
		s.DeleteGroup(n.now, id, func(code int16) {
			resp.Groups[i].ErrorCode = code
			done()
		})
	}
	done()
}
