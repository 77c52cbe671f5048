package cluster

import "errors"

var (
	// ErrNameTaken: another live daemon is registered under the node name.
	ErrNameTaken = errors.New("another lazarusd is registered under this node name")
	// ErrNodeDown: the node a request was forwarded to is not up.
	ErrNodeDown = errors.New("node is down")
	// ErrClosed: the node has left or was closed.
	ErrClosed = errors.New("cluster node closed")
)
