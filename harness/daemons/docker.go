package daemons

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/sandbox"
)

// DockerRuntime is the name the runc under test is registered under in dockerd.
const DockerRuntime = "relapse-runc"

// Docker is a dockerd relapse runs (with the containerd dockerd manages),
// its Go client, and the runc under test registered as its default runtime.
type Docker struct {
	*sandbox.Daemon
	Client *client.Client
}

// DockerOptions chooses what a relapse dockerd uses.
type DockerOptions struct {
	// Dockerd is the dockerd binary (Debian's docker.io by default).
	Dockerd string
	// Runc is the runc under test.
	Runc string
	// CgroupParent keeps container cgroups under one name relapse removes.
	CgroupParent string
}

// StartDocker starts dockerd with private data, exec and state dirs under
// dir, a unix socket, no bridge, no iptables and no ip_forward changes, in
// ns, reading no host daemon.json, with opts.Runc as the default runtime.
func StartDocker(ctx context.Context, n node.Node, j *run.Journal, dir string, ns *sandbox.Netns, opts DockerOptions) (*Docker, func(context.Context) error, error) {
	if opts.Dockerd == "" {
		opts.Dockerd = "dockerd"
	}
	if err := n.WriteFile(ctx, filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		return nil, nil, err
	}
	sock := filepath.Join(dir, "docker.sock")
	d := &sandbox.Daemon{Node: n, Name: "dockerd", Dir: dir, Netns: ns, Socket: sock, Log: filepath.Join(dir, "dockerd.log"),
		Argv: []string{opts.Dockerd,
			"--config-file", filepath.Join(dir, "daemon.json"),
			"--data-root", filepath.Join(dir, "data"),
			"--exec-root", filepath.Join(dir, "exec"),
			"--pidfile", filepath.Join(dir, "docker.pid"),
			"--host", "unix://" + sock,
			"--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
			"--userland-proxy=false",
			"--storage-driver", "overlay2",
			"--exec-opt", "native.cgroupdriver=cgroupfs",
			"--cgroup-parent", opts.CgroupParent,
			// Lowering its own oom_score_adj needs CAP_SYS_RESOURCE, which
			// some hosts lack; 0 leaves it as it is.
			"--oom-score-adjust", "0",
			"--add-runtime", DockerRuntime + "=" + opts.Runc,
			"--default-runtime", DockerRuntime,
		}}
	stop, err := d.Start(ctx, j, 60*time.Second)
	if err != nil {
		return nil, nil, err
	}
	// The socket is on the node: dialled through the namespace, which on a
	// VM node means through the node's agent (a unix socket is not scoped
	// by the network namespace, but the relay is what reaches the node).
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) { return ns.DialContext(ctx, "unix", sock) }
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+sock), client.WithDialContext(dial), client.WithAPIVersionNegotiation())
	if err != nil {
		_ = stop(context.WithoutCancel(ctx))
		return nil, nil, fmt.Errorf("docker client: %w", err)
	}
	return &Docker{Daemon: d, Client: cli}, func(ctx context.Context) error {
		cli.Close()
		return stop(ctx)
	}, nil
}

// ImportRootfs imports a local directory as an image (docker import), so
// no registry is needed.
func (d *Docker) ImportRootfs(ctx context.Context, rootfs, ref string, cmd []string) error {
	quoted := make([]string, len(cmd))
	for i, c := range cmd {
		quoted[i] = fmt.Sprintf("%q", c)
	}
	return d.ImportTree(ctx, rootfs, ref, []string{"CMD [" + strings.Join(quoted, ",") + "]"})
}

// ImportTree imports a directory as a one-layer image with Dockerfile
// changes ("ENTRYPOINT [...]", "STOPSIGNAL ..."), streaming the tar so a
// gigabyte root filesystem is never held in memory.
func (d *Docker) ImportTree(ctx context.Context, dir, ref string, changes []string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarDir(pw, dir)) }()
	defer pr.Close()
	rc, err := d.Client.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, ref, image.ImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("docker import %s from %s: %w", ref, dir, err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if bytes.Contains(out, []byte(`"error"`)) {
		return fmt.Errorf("docker import %s: %s", ref, out)
	}
	return nil
}

// tarDir writes dir as an uncompressed tar.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSocket != 0 {
			return nil // a socket left in a tree is not content
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		// Numeric owners as on disk (a Debian tree has files of other
		// users); names would be looked up in the host's passwd.
		hdr.Name, hdr.Uname, hdr.Gname = rel, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// LoadArchive loads a `docker save` archive (docker load).
func (d *Docker) LoadArchive(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	resp, err := d.Client.ImageLoad(ctx, f)
	if err != nil {
		return fmt.Errorf("docker load %s: %w", path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if bytes.Contains(out, []byte(`"error"`)) {
		return fmt.Errorf("docker load %s: %s", path, out)
	}
	return nil
}

// Run creates and starts a container and returns its id. Start is where
// the rc93 pipe hang (containerd#5261) (the filter is loaded after exec.fifo opens), so the
// caller bounds ctx.
func (d *Docker) Run(ctx context.Context, name, ref string, securityOpts []string) (string, error) {
	created, err := d.Client.ContainerCreate(ctx, &container.Config{Image: ref},
		&container.HostConfig{NetworkMode: "none", SecurityOpt: securityOpts}, nil, nil, name)
	if err != nil {
		return "", fmt.Errorf("docker create %s: %w", name, err)
	}
	if err := d.Client.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return created.ID, fmt.Errorf("docker start %s: %w", name, err)
	}
	return created.ID, nil
}

// RemoveAll force-removes every container, bounded by ctx.
func (d *Docker) RemoveAll(ctx context.Context) error {
	list, err := d.Client.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return err
	}
	for _, c := range list {
		if err := d.Client.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			return err
		}
	}
	return nil
}
