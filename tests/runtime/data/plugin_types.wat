;; The WIT types Harvester's plugins import and export (wit/*.wit, harvester:plugin@1.2.0)
;; as a component the test suite can load without componentize-py. tests/runtime/
;; test_fastcall.py reads its function types; one wasm-marked test there checks that every
;; harvester:plugin interface below equals the real bme680 and dht22 builds', so this file
;; cannot drift from wit/ unnoticed.
;;
;; Component-model rule kept throughout: a record, variant or enum that an instance type's
;; functions use is exported from that instance type as a named type (eq), and a type from
;; another interface (hal-error) is aliased in from the component's own import of it.
;;
;; Everything is imported, for its types only, except the export harvester-test:guest/echo:
;; its call-transfer hands its arguments to the imported i2c transfer and returns that
;; function's result, so tests can drive a host function from a real guest call.
(component $root
  ;; --- harvester:plugin/types -----------------------------------------------------------
  (type $types-ty (instance
    (type $nas (enum "address" "data" "unknown"))
    (export "no-acknowledge-source" (type $nas-e (eq $nas)))
    (type $he (variant
      (case "bus")
      (case "arbitration-loss")
      (case "no-acknowledge" $nas-e)
      (case "overrun")
      (case "timeout")
      (case "not-granted" string)
      (case "other" string)))
    (export "hal-error" (type (eq $he)))))
  (import "harvester:plugin/types@1.2.0" (instance $types (type $types-ty)))
  (alias export $types "hal-error" (type $hal-error))

  ;; --- harvester:plugin/i2c --------------------------------------------------------------
  (type $i2c-ty (instance
    (type $u16 u16)
    (export "address" (type $address (eq $u16)))
    (alias outer $root $hal-error (type $he))
    (export "hal-error" (type $he-e (eq $he)))
    (type $bytes (list u8))
    (type $r (result $bytes (error $he-e)))
    (type $f (func (param "bus" u32) (param "address" $address) (param "data" $bytes)
                   (param "read-len" u32) (result $r)))
    (export "transfer" (func (type $f)))))
  (import "harvester:plugin/i2c@1.2.0" (instance $i2c (type $i2c-ty)))

  ;; --- harvester:plugin/gpio-provider ----------------------------------------------------
  (type $gpio-ty (instance
    (type $rd (record (field "temperature-c" f32) (field "humidity-rh" f32)))
    (export "dht22-reading" (type $rd-e (eq $rd)))
    (alias outer $root $hal-error (type $he))
    (export "hal-error" (type $he-e (eq $he)))
    (type $r-dht (result $rd-e (error $he-e)))
    (type $f-dht (func (param "pin" u8) (result $r-dht)))
    (export "read-dht22" (func (type $f-dht)))
    (type $r-pin (result bool (error $he-e)))
    (type $f-read (func (param "pin" u8) (result $r-pin)))
    (export "read-pin" (func (type $f-read)))
    (type $r-unit (result (error $he-e)))
    (type $f-write (func (param "pin" u8) (param "high" bool) (result $r-unit)))
    (export "write-pin" (func (type $f-write)))))
  (import "harvester:plugin/gpio-provider@1.2.0" (instance (type $gpio-ty)))

  ;; --- harvester:plugin/log and clock ----------------------------------------------------
  (type $log-ty (instance
    (type $level (enum "trace" "debug" "info" "warn" "error"))
    (export "level" (type $level-e (eq $level)))
    (type $f (func (param "level" $level-e) (param "message" string)))
    (export "log" (func (type $f)))))
  (import "harvester:plugin/log@1.2.0" (instance (type $log-ty)))
  (type $clock-ty (instance
    (type $f-now (func (result u64)))
    (export "now-ms" (func (type $f-now)))
    (type $f-sleep (func (param "ms" u32)))
    (export "sleep-ms" (func (type $f-sleep)))))
  (import "harvester:plugin/clock@1.2.0" (instance (type $clock-ty)))

  ;; --- harvester:plugin/sensor (a plugin exports it; imported here for its types) --------
  (type $sensor-ty (instance
    (alias outer $root $hal-error (type $he))
    (export "hal-error" (type $he-e (eq $he)))
    (type $dc (enum "none" "temperature" "humidity" "pressure" "gas-resistance"
                    "power-factor" "voltage" "current" "duration" "data-size" "frequency"))
    (export "device-class" (type $dc-e (eq $dc)))
    (type $sc (enum "measurement" "total" "total-increasing"))
    (export "state-class" (type $sc-e (eq $sc)))
    (type $metric (record (field "name" string) (field "unit" string)
                          (field "device-class" $dc-e) (field "state-class" $sc-e)))
    (export "metric" (type $metric-e (eq $metric)))
    (type $reading (record (field "metric" string) (field "value" f64)))
    (export "reading" (type $reading-e (eq $reading)))
    (type $setting (record (field "key" string) (field "value" string)))
    (export "setting" (type $setting-e (eq $setting)))
    (type $se (variant
      (case "hal" $he-e)
      (case "no-device" string)
      (case "invalid-data" string)
      (case "bad-setting" string)
      (case "out-of-memory")
      (case "internal" string)))
    (export "sensor-error" (type $se-e (eq $se)))
    (type $settings (list $setting-e))
    (type $r-init (result (error $se-e)))
    (type $f-init (func (param "settings" $settings) (result $r-init)))
    (export "init" (func (type $f-init)))
    (type $metrics (list $metric-e))
    (type $f-describe (func (result $metrics)))
    (export "describe" (func (type $f-describe)))
    (type $readings (list $reading-e))
    (type $r-poll (result $readings (error $se-e)))
    (type $f-poll (func (result $r-poll)))
    (export "poll" (func (type $f-poll)))))
  (import "harvester:plugin/sensor@1.2.0" (instance (type $sensor-ty)))

  ;; --- shapes our plugins meet only in WASI's types --------------------------------------
  ;; wasi:filesystem's read-directory-entry (an option of a record in a result) and
  ;; wasi:cli's get-environment (a list of tuples, which fastconvert leaves to wasmtime-py).
  (type $shapes-ty (instance
    (type $dt (enum "unknown" "directory" "regular-file"))
    (export "descriptor-type" (type $dt-e (eq $dt)))
    (type $entry (record (field "type" $dt-e) (field "name" string)))
    (export "directory-entry" (type $entry-e (eq $entry)))
    (type $ec (enum "access" "bad-descriptor" "io"))
    (export "error-code" (type $ec-e (eq $ec)))
    (type $maybe (option $entry-e))
    (type $r-entry (result $maybe (error $ec-e)))
    (type $f-entry (func (result $r-entry)))
    (export "read-directory-entry" (func (type $f-entry)))
    (type $pair (tuple string string))
    (type $env (list $pair))
    (type $f-env (func (result $env)))
    (export "get-environment" (func (type $f-env)))))
  (import "harvester-test:shapes/wasi-like" (instance (type $shapes-ty)))

  ;; --- the callable guest ----------------------------------------------------------------
  ;; A bump allocator owns the linear memory; the canonical ABI calls its realloc to place
  ;; call-transfer's `data` argument and transfer's result, and post-return resets it.
  (core module $libc
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    (func (export "realloc") (param $old i32) (param $old-size i32) (param $align i32)
                             (param $size i32) (result i32)
      (local $at i32)
      (local $end i32)
      (local.set $at (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                              (i32.sub (i32.const 0) (local.get $align))))
      (local.set $end (i32.add (local.get $at) (local.get $size)))
      (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
        (then
          (if (i32.eq (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end)
                                                                (i32.shl (memory.size) (i32.const 16)))
                                                       (i32.const 16))
                                            (i32.const 1)))
                      (i32.const -1))
            (then unreachable))))
      (global.set $heap (local.get $end))
      (local.get $at))
    (func (export "reset") (param i32)
      (global.set $heap (i32.const 1024))))
  (core instance $libc (instantiate $libc))
  (alias core export $libc "memory" (core memory $mem))
  (alias core export $libc "realloc" (core func $realloc))
  (alias core export $libc "reset" (core func $reset))

  (alias export $i2c "transfer" (func $transfer))
  (core func $transfer-lowered (canon lower (func $transfer) (memory $mem) (realloc $realloc)))

  ;; transfer's flattened result does not fit in one core value, so the caller passes a
  ;; pointer to a 16-byte, 4-aligned result area (at 16, below the heap); call-transfer
  ;; returns the same area, whose layout is its own result's.
  (core module $main
    (import "libc" "memory" (memory 1))
    (import "host" "transfer" (func $transfer (param i32 i32 i32 i32 i32 i32)))
    (func (export "call-transfer") (param i32 i32 i32 i32 i32) (result i32)
      (call $transfer (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
                      (i32.const 16))
      (i32.const 16)))
  (core instance $main (instantiate $main
    (with "libc" (instance $libc))
    (with "host" (instance (export "transfer" (func $transfer-lowered))))))

  (type $bytes (list u8))
  (type $transfer-result (result $bytes (error $hal-error)))
  (type $call-ty (func (param "bus" u32) (param "address" u16) (param "data" $bytes)
                       (param "read-len" u32) (result $transfer-result)))
  (func $call-transfer (type $call-ty)
    (canon lift (core func $main "call-transfer") (memory $mem) (realloc $realloc)
                (post-return $reset)))
  (instance $echo (export "call-transfer" (func $call-transfer)))
  (export "harvester-test:guest/echo" (instance $echo))
)
