/* Logging to stderr with a level set by VIGIL_LOG (error, warn, info, debug). */
#ifndef VIGIL_UTIL_LOG_H
#define VIGIL_UTIL_LOG_H

typedef enum { VLOG_ERROR = 0, VLOG_WARN, VLOG_INFO, VLOG_DEBUG } vlog_level;

void vlog(vlog_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define vlog_error(...) vlog(VLOG_ERROR, __VA_ARGS__)
#define vlog_warn(...) vlog(VLOG_WARN, __VA_ARGS__)
#define vlog_info(...) vlog(VLOG_INFO, __VA_ARGS__)
#define vlog_debug(...) vlog(VLOG_DEBUG, __VA_ARGS__)

#endif
