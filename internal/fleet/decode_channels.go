package fleet

// decodeChannels decodes and validates channels/<product>.yaml. It returns
// nil when the file did not decode; the document holds the problems.
// Whether each version has a release is checked by the loader.
func decodeChannels(file, product string, data []byte, r *refs) (*Channels, *document) {
	d := parseDocument(file, data)
	if d.root == nil || !d.checkTypeMeta(KindChannels) {
		return nil, d
	}
	var c Channels
	if !d.decode(&c) {
		return nil, d
	}
	d.checkMeta(c.ObjectMeta, product)
	spec := fieldPath{}.child("spec")
	for ch, v := range c.Spec {
		d.checkChannel(spec.key(ch), ch, r)
		d.checkVersion(spec.key(ch), v)
	}
	return &c, d
}

// ParseChannels decodes a channels file on its own, such as an earlier
// version of channels/<product>.yaml from the repo's history, with the same
// strict checks as Load except those that need the rest of the repo.
func ParseChannels(file, product string, data []byte) (*Channels, error) {
	c, d := decodeChannels(file, product, data, &refs{})
	if !d.ok() {
		return nil, d.errs.join()
	}
	return c, nil
}
