// Command etcd is etcd's own server entry point, built from the etcd module so
// that tests never need a downloaded binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
