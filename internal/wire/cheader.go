package wire

import _ "embed" // for CHeader

// CHeaderFile is the C half of the formats, which the C modules include.
const CHeaderFile = "anyhost_wire.h"

// CHeader is the text of CHeaderFile, written beside a module's source
// when `anyhost apache build` compiles it.
//
//go:embed anyhost_wire.h
var CHeader string
