package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/anyhost/anyhost/adapters/apache"
	"github.com/anyhost/anyhost/adapters/nginx"
	"github.com/anyhost/anyhost/internal/secret"
)

func secretCommand() *cli.Command {
	dir := &cli.StringFlag{Name: "dir", Value: "/etc/anyhost/secret", Usage: "the secret directory"}
	return &cli.Command{
		Name: "secret",
		Usage: "make and rotate the secret that proves to 'anyhost serve' that a request comes from the web server " +
			"(files for 'serve --secret', 'apache conf --secret-dir' and 'nginx conf --secret-dir')",
		Subcommands: []*cli.Command{
			{
				Name:      "new",
				Usage:     "write a new secret and the Apache and nginx snippets holding it (all mode 0600)",
				UsageText: "anyhost secret new [--dir /etc/anyhost/secret] [--owner USER] [--force]",
				Flags: []cli.Flag{dir,
					&cli.StringFlag{Name: "owner", Usage: "user that may read DIR/secret (the one 'serve' runs as; default: root only, for systemd's LoadCredential)"},
					&cli.BoolFlag{Name: "force", Usage: "replace an existing secret (web servers using it are refused until reloaded)"},
				},
				Action: func(c *cli.Context) error {
					d := c.String("dir")
					if _, err := os.Stat(filepath.Join(d, secret.File)); err == nil && !c.Bool("force") {
						return cli.Exit(fmt.Sprintf("secret new: %s already exists: use `anyhost secret rotate`, or --force", filepath.Join(d, secret.File)), 1)
					}
					v, err := secret.Generate()
					if err != nil {
						return cli.Exit(err.Error(), 1)
					}
					if err := writeSecrets(d, c.String("owner"), []string{v}); err != nil {
						return cli.Exit("secret new: "+err.Error(), 1)
					}
					fmt.Fprintf(c.App.Writer, "wrote %s, %s and %s\n", filepath.Join(d, secret.File),
						filepath.Join(d, apache.SecretFile), filepath.Join(d, nginx.SecretFile))
					fmt.Fprintf(c.App.Writer, "use: anyhost serve ... --secret file:%s, and --secret-dir %s for `apache conf` or `nginx conf`\n",
						filepath.Join(d, secret.File), d)
					return nil
				},
			},
			{
				Name: "rotate",
				Usage: "make a new secret: web servers get it, serve accepts it and the previous one; then " +
					"`kill -HUP` serve, reload the web server, and later `anyhost secret retire`",
				UsageText: "anyhost secret rotate [--dir /etc/anyhost/secret]",
				Flags:     []cli.Flag{dir},
				Action: func(c *cli.Context) error {
					d := c.String("dir")
					old, err := secret.Load([]string{"file:" + filepath.Join(d, secret.File)}, ".")
					if err != nil {
						return cli.Exit("secret rotate: "+err.Error(), 1)
					}
					v, err := secret.Generate()
					if err != nil {
						return cli.Exit(err.Error(), 1)
					}
					if err := writeSecrets(d, "", []string{v, old[0]}); err != nil {
						return cli.Exit("secret rotate: "+err.Error(), 1)
					}
					fmt.Fprintln(c.App.Writer, "rotated; now, in this order: kill -HUP anyhost serve (it accepts both), "+
						"reload Apache/nginx (they send the new one), then `anyhost secret retire` and kill -HUP again")
					return nil
				},
			},
			{
				Name:      "retire",
				Usage:     "stop accepting the previous secret (after every web server was reloaded onto the new one); then `kill -HUP` serve",
				UsageText: "anyhost secret retire [--dir /etc/anyhost/secret]",
				Flags:     []cli.Flag{dir},
				Action: func(c *cli.Context) error {
					d := c.String("dir")
					cur, err := secret.Load([]string{"file:" + filepath.Join(d, secret.File)}, ".")
					if err != nil {
						return cli.Exit("secret retire: "+err.Error(), 1)
					}
					if err := writeSecrets(d, "", cur[:1]); err != nil {
						return cli.Exit("secret retire: "+err.Error(), 1)
					}
					fmt.Fprintln(c.App.Writer, "only the current secret is accepted after serve's next SIGHUP")
					return nil
				},
			},
		},
	}
}

// writeSecrets writes values (current first) to dir's secret file and the
// current one to the web servers' snippets, each replaced by rename so a
// reader never sees half a file. The secret file keeps its owner (or gets
// owner); the snippets are root's: web servers read them before dropping
// privileges.
func writeSecrets(dir, owner string, values []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	uid, gid := -1, -1
	path := filepath.Join(dir, secret.File)
	if owner != "" {
		u, err := user.Lookup(owner)
		if err != nil {
			return fmt.Errorf("--owner: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	} else if fi, err := os.Stat(path); err == nil {
		uid, gid = statOwner(fi)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := writeFile0600(path, strings.Join(values, "\n")+"\n", uid, gid); err != nil {
		return err
	}
	if err := writeFile0600(filepath.Join(dir, apache.SecretFile), apache.SecretSnippet(values[0]), -1, -1); err != nil {
		return err
	}
	return writeFile0600(filepath.Join(dir, nginx.SecretFile), nginx.SecretSnippet(values[0]), -1, -1)
}

func writeFile0600(path, text string, uid, gid int) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if uid >= 0 {
		if err := tmp.Chown(uid, gid); err != nil {
			tmp.Close()
			return err
		}
	}
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func statOwner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}
