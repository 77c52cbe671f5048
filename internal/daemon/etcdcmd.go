package daemon

import (
	"fmt"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"lazarus/internal/etcdembed"
)

// etcdCommand is "lazarusd etcd": a single-member etcd in this process, for
// a trial of cluster mode on one machine (make demo-cluster) or a small
// site that wants no separate etcd installation. It is an ordinary etcd
// member: a real site runs three or five, here or with etcd's own server.
func etcdCommand() *cli.Command {
	return &cli.Command{
		Name:      "etcd",
		Usage:     "run a single-member etcd for a trial of cluster mode",
		UsageText: "lazarusd etcd --data-dir DIR [--listen-client URL] [--listen-peer URL] [--name NAME]",
		Description: `Runs one etcd member in the foreground until SIGTERM or SIGINT, its data in
--data-dir (created if needed; a restart on the same directory keeps the
cluster's state). Point each node's lazarus.conf at it with
etcd_endpoints = URL of --listen-client and etcd_insecure = true: this member
takes plain http clients without certificates, so whoever can reach its URL
(any local user, on loopback) can write job records that run as root. A
trial only: for production run three or five etcd members with TLS client
certificates (etcd_cert, etcd_key). One member has no redundancy: the
cluster stops when it stops.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data-dir", Required: true, Usage: "the member's data directory"},
			&cli.StringFlag{Name: "listen-client", Value: "http://127.0.0.1:2379", Usage: "client URL"},
			&cli.StringFlag{Name: "listen-peer", Value: "http://127.0.0.1:2380", Usage: "peer URL"},
			&cli.StringFlag{Name: "name", Value: "lazarus", Usage: "member name"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unexpected argument %q", c.Args().First())
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			// etcd's errors, without its stack traces; none at all once it
			// is being closed (it reports its own listeners closing).
			level := zap.NewAtomicLevelAt(zapcore.ErrorLevel)
			zc := zap.NewProductionConfig()
			zc.Level, zc.DisableStacktrace = level, true
			lg, err := zc.Build()
			if err != nil {
				return err
			}
			m, err := etcdembed.Start(ctx, etcdembed.Config{
				Name: c.String("name"), Dir: c.String("data-dir"), Logger: lg,
				ClientURL: c.String("listen-client"), PeerURL: c.String("listen-peer"),
			})
			if err != nil {
				return err
			}
			defer func() {
				level.SetLevel(zapcore.FatalLevel)
				m.Close()
			}()
			fmt.Fprintf(c.App.Writer, "lazarusd etcd: serving at %s\n", m.ClientURL())
			select {
			case <-ctx.Done():
				return nil
			case err := <-m.Err():
				return fmt.Errorf("etcd: %w", err)
			}
		},
	}
}
