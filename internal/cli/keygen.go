package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
)

// Names of the files `syncd keygen` writes in --out.
const (
	identityFile    = "identity"
	identityPubFile = "identity.pub"
)

func newKeygenCommand(s *streams) *cobra.Command {
	var (
		out, comment string
		force        bool
	)
	c := &cobra.Command{
		Use:   "keygen --out DIR",
		Short: "Generate an ed25519 deploy key",
		Long: `Generate an ed25519 SSH key pair for syncd to reach the fleet repo with:
DIR/identity (the private key, mode 0600, for --identity) and DIR/identity.pub.
The public key line is printed on stdout, to add to the fleet repo as a deploy
key. Existing files are kept unless --force is given.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if out == "" {
				return withCode(ExitError, errors.New("--out is required"))
			}
			line, err := writeDeployKey(out, comment, force)
			if err != nil {
				return withCode(ExitError, err)
			}
			if _, err := fmt.Fprintln(s.out, line); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.err, "Wrote %s (secret: give it to syncd with --identity) and %s. "+
				"Add the key above to the fleet repo as a deploy key: with write access if the site publishes its status report there (the default)\n"+
				"or runs the promoter; read-only when its reports go to a separate --status-repo and it does not promote.\n"+
				"Where keys go (docs/security.md):\n"+
				"  - fleet repo deploy key (--identity): read-only for sites that publish to a --status-repo; write access for the promoter, which pushes bumps.\n"+
				"  - status repo key (--status-identity, with --status-repo): write access there; the site pushes branch syncd/status/<site>.\n"+
				"  - signing key (--signing-key): the site signs its reports, the promoter its commits; commit the public key as sites/<site>/site.pub\n"+
				"    (a site's report key) or list it in the sites' --verify-commits allowed_signers file (the promoter's commit key).\n"+
				"  One key pair may serve a site as --status-identity and --signing-key; keep the fleet repo key separate, read-only.\n",
				filepath.Join(out, identityFile), filepath.Join(out, identityPubFile))
			return err
		},
	}
	c.Flags().StringVar(&out, "out", "", "directory for identity and identity.pub (created when missing)")
	c.Flags().BoolVar(&force, "force", false, "replace an existing key pair")
	c.Flags().StringVar(&comment, "comment", defaultKeyComment(), "comment ending the public key line")
	return c
}

// defaultKeyComment names the key after this host, like ssh-keygen does.
func defaultKeyComment() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "syncd"
	}
	return "syncd@" + host
}

// writeDeployKey generates an ed25519 key pair into dir and returns the
// public key line.
func writeDeployKey(dir, comment string, force bool) (string, error) {
	priv, pub := filepath.Join(dir, identityFile), filepath.Join(dir, identityPubFile)
	if !force {
		for _, p := range []string{priv, pub} {
			if _, err := os.Lstat(p); err == nil {
				return "", fmt.Errorf("%s already exists: pass --force to replace it (whatever trusts the old key stops accepting syncd)", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	pubKey, privKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generating key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(privKey, comment)
	if err != nil {
		return "", fmt.Errorf("encoding private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pubKey)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	if comment != "" {
		line += " " + comment
	}
	if err := writeNew(priv, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	if err := writeNew(pub, []byte(line+"\n"), 0o644); err != nil {
		return "", err
	}
	return line, nil
}

// writeNew writes a file that did not exist (replacing one removes it
// first), so that an old file's looser mode or a planted symlink is never
// reused; the mode is set exactly, whatever the umask.
func writeNew(path string, data []byte, mode fs.FileMode) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
