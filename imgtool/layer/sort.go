package layer

import "sort"

func sortStrings(s []string) { sort.Strings(s) }

func sortXattrs(x []xattr) { sort.Slice(x, func(i, j int) bool { return x[i].name < x[j].name }) }
