/* The headers bindgen reads for the Linux cross-build (src/kernel/ddk.rs). ntifs.h includes
   ntddk.h and adds ZwWaitForSingleObject. */
#include <ntifs.h>
