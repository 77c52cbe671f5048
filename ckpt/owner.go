package ckpt

// Owner is the user a restore runs for (RestartOptions.Owner). The engine
// runs as root, so without an owner an image could ask for any identity:
// for a non-root owner the image's credentials must be exactly the
// owner's, resource limits are never raised above the owner's current hard
// limits, nice never below what the owner may set, capabilities never
// beyond the owner's, and every file is opened as the owner. An image
// authenticated with RestartOptions.Key (an HMAC written by a trusted
// checkpointer, see CheckpointOptions.Key) is restored as it was recorded.
type Owner struct {
	UID    int
	GID    int
	Groups []int // supplementary groups
}
