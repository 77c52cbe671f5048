package config

import (
	"fmt"
	"strings"
	"time"
)

// The keys of a node in cluster mode (internal/cluster); the etcd
// endpoints, the TLS files and the shared directory are in keys.go.
func init() {
	keys = append(keys,
		key{"node_name", "this host's node name in a cluster (letters, digits, '.', '-', '_'); empty: the host name", "host name",
			func(c *Config, v string) error {
				for _, r := range v {
					if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_", r)) {
						return fmt.Errorf("want letters, digits, '.', '-' and '_'")
					}
				}
				if len(v) > 64 {
					return fmt.Errorf("want at most 64 characters")
				}
				c.NodeName = v
				return nil
			},
			func(c Config) string { return c.NodeName }},
		key{"node_ttl", "time to live of the node's etcd lease, its heartbeat: a node silent that long is lost and its jobs restart elsewhere (whole seconds, at least 5s)", "10s",
			func(c *Config, v string) error {
				if err := duration(&c.NodeTTL, v, 5*time.Second, time.Hour); err != nil {
					return err
				}
				if c.NodeTTL%time.Second != 0 {
					return fmt.Errorf("want whole seconds")
				}
				return nil
			},
			func(c Config) string {
				if c.NodeTTL == 0 {
					return "10s"
				}
				return formatDuration(c.NodeTTL)
			}},
		key{"drain_timeout", "deadline of a node's drain (pbsnodes -o HOST): past it, the rerunnable jobs still on the node are requeued and the others left to finish there; 0: none", "0",
			func(c *Config, v string) error { return duration(&c.DrainTimeout, v, 0, 30*24*time.Hour) },
			func(c Config) string {
				if c.DrainTimeout == 0 {
					return "0"
				}
				return formatDuration(c.DrainTimeout)
			}},
	)
}
