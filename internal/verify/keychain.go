package verify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// dockerConfig is the part of a docker config JSON (~/.docker/config.json,
// or a kubernetes.io/dockerconfigjson Secret) that holds credentials.
type dockerConfig struct {
	Auths       map[string]dockerAuth `json:"auths"`
	CredsStore  string                `json:"credsStore"`
	CredHelpers map[string]string     `json:"credHelpers"`
}

type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// Keychain is a set of registry credentials from a docker config JSON, by
// registry host.
type Keychain struct {
	byHost map[string]authn.AuthConfig
}

// LoadKeychain reads the docker config JSON at file (the --registry-config
// flag).
func LoadKeychain(file string) (*Keychain, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading registry config: %w", err)
	}
	kc, err := ParseKeychain(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return kc, nil
}

// ParseKeychain parses a docker config JSON. Only inline credentials
// ("auths") are supported: credential helpers would run programs.
func ParseKeychain(data []byte) (*Keychain, error) {
	var cfg dockerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("not a docker config JSON: %w", err)
	}
	if cfg.CredsStore != "" || len(cfg.CredHelpers) > 0 {
		return nil, errors.New("credsStore, credHelpers: not supported yet: put the credentials in auths")
	}
	kc := &Keychain{byHost: make(map[string]authn.AuthConfig, len(cfg.Auths))}
	for key, a := range cfg.Auths {
		ac := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("auths[%s].auth: not base64: %w", key, err)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("auths[%s].auth: want base64 of user:password", key)
			}
			ac.Username, ac.Password = user, pass
		}
		kc.byHost[registryHost(key)] = ac
	}
	return kc, nil
}

// Resolve returns the credentials for target's registry, or anonymous.
func (k *Keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if ac, ok := k.byHost[target.RegistryStr()]; ok {
		return authn.FromConfig(ac), nil
	}
	return authn.Anonymous, nil
}

// registryHost is the host of an auths key, which may be a URL such as
// https://index.docker.io/v1/.
func registryHost(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, _, _ := strings.Cut(key, "/")
	if host == "docker.io" || host == "registry-1.docker.io" {
		return "index.docker.io"
	}
	return host
}
