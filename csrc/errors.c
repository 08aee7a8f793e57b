#include "pyonep_fast.h"

/* Same text as pyonep_fast._core.MESSAGES (tests/test_core_errors.py). */
const char *pf_strerror(int code)
{
    switch (code) {
    case PF_OK: return "ok";
    case PF_ENOMEM: return "out of memory";
    case PF_EUTF8: return "invalid UTF-8";
    case PF_ENONFINITE: return "NaN and infinity cannot be encoded as JSON";
    case PF_ESYNTAX: return "malformed JSON";
    case PF_ETRUNCATED: return "truncated JSON";
    case PF_EDEPTH: return "JSON nested too deeply";
    case PF_ETYPE: return "value of the wrong type";
    case PF_ERANGE: return "number or index out of range";
    case PF_EARG: return "invalid argument";
    case PF_ETOOBIG: return "size limit exceeded";
    default: return "unknown error";
    }
}
