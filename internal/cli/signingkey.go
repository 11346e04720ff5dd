package cli

import "github.com/spf13/pflag"

// addSigningKey registers --signing-key: the SSH key that signs the commits
// syncd makes (the promoter's bumps and recalls), so that sites verifying
// commits (--verify-commits) accept them.
func (f *commonFlags) addSigningKey(fs *pflag.FlagSet) {
	fs.StringVar(&f.signingKey, "signing-key", "", "SSH private key file (not encrypted) that signs the commits syncd pushes, as git does with gpg.format=ssh: list its public key in the sites' --verify-commits file")
}
