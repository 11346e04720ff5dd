package fleet

// decodeRelease decodes and validates release.yaml of release version of
// product. It returns nil when the file did not decode; the document holds
// the problems.
func decodeRelease(file, product, version string, data []byte) (*Release, *document) {
	d := parseDocument(file, data)
	if d.root == nil || !d.checkTypeMeta(KindRelease) {
		return nil, d
	}
	var rel Release
	if !d.decode(&rel) {
		return nil, d
	}
	d.checkMeta(rel.ObjectMeta, product+"-"+version)
	return &rel, d
}
