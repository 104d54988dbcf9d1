//! What a bare-metal x86_64 program needs before Rust code runs, and around it: the
//! multiboot2 header GRUB looks for, the switch from 32-bit protected mode to long mode
//! (the first GiB mapped to itself), SSE/AVX/AVX-512 state enabled in CR0, CR4 and XCR0
//! (what an OS does, so that the crate's CPUID + XGETBV detection sees the vector units),
//! the C memory functions LLVM calls, a heap, the serial port, and Bochs's shutdown port.
use core::alloc::{GlobalAlloc, Layout};
use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;

global_asm!(
    r#"
    .section .multiboot2, "a"
    .balign 8
mb2_start:
    .long 0xe85250d6
    .long 0
    .long mb2_end - mb2_start
    .long -(0xe85250d6 + (mb2_end - mb2_start))
    .short 0
    .short 0
    .long 8
mb2_end:

    .section .boot, "ax"
    .code32
    .global _start
_start:
    cli
    mov %ebx, mb2_info
    mov $boot_stack_top, %esp
    mov $pdpt, %eax
    or $3, %eax
    mov %eax, pml4
    mov $pd, %eax
    or $3, %eax
    mov %eax, pdpt
    xor %ecx, %ecx
1:
    mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, pd(,%ecx,8)
    movl $0, pd+4(,%ecx,8)
    inc %ecx
    cmp $512, %ecx
    jne 1b
    mov $pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov $0xC0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    lgdt gdt_ptr
    ljmp $0x08, $long_start

    .code64
long_start:
    xor %eax, %eax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov %cr0, %rax
    and $~0x4, %rax
    or $0x2, %rax
    mov %rax, %cr0
    mov %cr4, %rax
    or $0x40600, %rax
    mov %rax, %cr4
    mov $0xd, %eax
    xor %ecx, %ecx
    cpuid
    and $0xe7, %eax
    xor %edx, %edx
    xor %ecx, %ecx
    xsetbv
    mov $boot_stack_top, %rsp
    call kmain
2:
    hlt
    jmp 2b

    .section .rodata.gdt, "a"
    .balign 8
gdt:
    .quad 0
    .quad 0x00209a0000000000
gdt_ptr:
    .short gdt_ptr - gdt - 1
    .long gdt

    .section .bss.boot, "aw", @nobits
    .balign 4096
pml4:
    .skip 4096
pdpt:
    .skip 4096
pd:
    .skip 4096
boot_stack:
    .skip 0x100000
boot_stack_top:
    .global mb2_info
    .balign 8
mb2_info:
    .skip 8

    .section .text.mem, "ax"
    .global memcpy
memcpy:
    mov %rdi, %rax
    mov %rdx, %rcx
    rep movsb
    ret
    .global memset
memset:
    mov %rdi, %r9
    mov %esi, %eax
    mov %rdx, %rcx
    rep stosb
    mov %r9, %rax
    ret
    .global memmove
memmove:
    mov %rdi, %rax
    mov %rdx, %rcx
    cmp %rsi, %rdi
    jbe 3f
    lea -1(%rsi,%rdx), %rsi
    lea -1(%rdi,%rdx), %rdi
    std
    rep movsb
    cld
    ret
3:
    rep movsb
    ret
    .global memcmp
    .global bcmp
memcmp:
bcmp:
    xor %eax, %eax
    test %rdx, %rdx
    jz 5f
4:
    movzbl (%rdi), %eax
    movzbl (%rsi), %ecx
    sub %ecx, %eax
    jnz 5f
    inc %rdi
    inc %rsi
    dec %rdx
    jnz 4b
5:
    ret
"#,
    options(att_syntax)
);

/// Set the first serial port to 8 data bits (its reset state has 5, which cuts every
/// byte), no parity, one stop bit, 115200 baud.
pub fn serial_init() {
    for (port, value) in [(0x3fb, 0x80u8), (0x3f8, 1), (0x3f9, 0), (0x3fb, 0x03)] {
        // SAFETY: port I/O to the 16550 UART's line control and divisor registers.
        unsafe {
            asm!("out dx, al", in("dx") port as u16, in("al") value, options(nomem, nostack))
        };
    }
}

extern "C" {
    /// Where GRUB left the multiboot2 information (`_start` saves `ebx` there).
    static mb2_info: u64;
}

/// The command line GRUB passed (the words after the program's path in `grub.cfg`).
pub fn command_line() -> &'static [u8] {
    // SAFETY: `_start` wrote the address before any Rust code ran; nothing writes it
    // again. GRUB's information (a size, then 8-byte aligned tags of a type and a size;
    // type 1 a NUL-terminated command line, type 0 the end) lies in memory below 1 GiB,
    // mapped and left alone by this program.
    unsafe {
        let base = core::ptr::addr_of!(mb2_info).read() as usize as *const u8;
        let total = (base as *const u32).read() as usize;
        let mut at = 8;
        while at + 8 <= total {
            let tag = base.add(at);
            let (kind, size) = (
                (tag as *const u32).read(),
                (tag.add(4) as *const u32).read(),
            );
            if kind == 0 {
                break;
            }
            if kind == 1 {
                // The tag's size counts its 8-byte header and the string's NUL.
                let text = core::slice::from_raw_parts(tag.add(8), size as usize - 8);
                return text.split(|&b| b == 0).next().unwrap_or(&[]);
            }
            at += (size as usize).next_multiple_of(8);
        }
        &[]
    }
}

/// Write bytes to the first serial port (Bochs logs it to a file).
pub fn serial_write(bytes: &[u8]) {
    for &b in bytes {
        // SAFETY: port I/O to the 16550 UART at 0x3f8, which Bochs emulates; this program
        // runs in ring 0 and owns the machine.
        unsafe {
            while inb(0x3fd) & 0x20 == 0 {}
            asm!("out dx, al", in("dx") 0x3f8u16, in("al") b, options(nomem, nostack));
        }
    }
}

/// # Safety
/// Reads an I/O port; the caller owns the device.
unsafe fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: as the function's contract.
    unsafe { asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack)) };
    v
}

/// The serial port as a `core::fmt` sink.
pub struct Serial;
impl core::fmt::Write for Serial {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        serial_write(s.as_bytes());
        Ok(())
    }
}

#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::boot::Serial, $($arg)*);
    }};
}

/// Stop the emulator: Bochs ends the run when "Shutdown" is written to port 0x8900
/// (after the serial port has sent its last byte).
pub fn shutdown() -> ! {
    // SAFETY: reads the UART's line status register.
    while unsafe { inb(0x3fd) } & 0x40 == 0 {}
    for &b in b"Shutdown" {
        // SAFETY: port I/O to Bochs's shutdown port; ignored by anything else.
        unsafe { asm!("out dx, al", in("dx") 0x8900u16, in("al") b, options(nomem, nostack)) };
    }
    loop {
        // SAFETY: halts until an interrupt; none is enabled.
        unsafe { asm!("hlt", options(nomem, nostack)) };
    }
}

/// A heap for one thread: allocation bumps a pointer, and the pointer goes back to the
/// start whenever nothing is live (the checks allocate per case and free it all).
struct Bump {
    state: UnsafeCell<(usize, usize)>, // (next offset, live allocations)
    heap: UnsafeCell<[u8; HEAP]>,
}
const HEAP: usize = 128 << 20;

// SAFETY: the program has one thread and no interrupts.
unsafe impl Sync for Bump {}

// SAFETY: every block is inside `heap`, aligned as asked and handed out once until the
// heap is empty again.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: one thread, so no other reference to the state exists now.
        let (next, live) = unsafe { &mut *self.state.get() };
        let base = self.heap.get() as *mut u8;
        let start = (base as usize + *next).next_multiple_of(layout.align()) - base as usize;
        if start + layout.size() > HEAP {
            return core::ptr::null_mut();
        }
        *next = start + layout.size();
        *live += 1;
        // SAFETY: `start + size <= HEAP`, inside the array.
        unsafe { base.add(start) }
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {
        // SAFETY: one thread, so no other reference to the state exists now.
        let (next, live) = unsafe { &mut *self.state.get() };
        *live -= 1;
        if *live == 0 {
            *next = 0;
        }
    }
}

#[global_allocator]
static ALLOC: Bump = Bump {
    state: UnsafeCell::new((0, 0)),
    heap: UnsafeCell::new([0; HEAP]),
};

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("panic: {info}");
    println!("x86_64 bare metal: FAILED");
    shutdown()
}

/// The precompiled `alloc` names an unwinding personality and resume; with
/// `panic = "abort"` nothing unwinds, so neither is called.
#[no_mangle]
extern "C" fn rust_eh_personality() {}

#[no_mangle]
extern "C" fn _Unwind_Resume() -> ! {
    println!("x86_64 bare metal: FAILED (unwinding, which panic = \"abort\" rules out)");
    shutdown()
}
