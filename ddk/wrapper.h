/* The headers bindgen reads for the Linux cross-build (src/kernel/ddk.rs). */
#include <ntddk.h>
