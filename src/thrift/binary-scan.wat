;; The Thrift binary scanner's fast path (src/thrift/binary-wasm.ts states the contract), in
;; WebAssembly text. `npm run build` assembles it with wabt into dist/thrift/binary-scan.wasm.
;;
;; Memory layout, shared with binary-wasm.ts (which checks the exported layout globals below
;; against its own constants and refuses a module that disagrees):
;;   0      kind of each stack entry (u8; 1 struct, 2 list/set, 3 map)
;;   256    t1: element or key type per entry (u8)      512   t2: value type per entry (u8)
;;   1024   left: elements left per entry (u32)
;;   2048   class per Thrift type (u8; 1 fixed size, 2 string, 3 struct, 4 map, 5 list/set)
;;   2304   size per fixed-size type (u8)
;;   4096   scratch area (256 KiB) for windows copied in, then 16 read buffers of 512 KiB
;; 133 pages: 4096 + 262144 + 16 * 524288 bytes, rounded up; the memory never grows.
(module
  (memory (export "mem") 133 133)
  (global (export "layout_T1") i32 (i32.const 256))
  (global (export "layout_T2") i32 (i32.const 512))
  (global (export "layout_LEFT") i32 (i32.const 1024))
  (global (export "layout_CLASS") i32 (i32.const 2048))
  (global (export "layout_SIZE") i32 (i32.const 2304))
  (global $code (mut i32) (i32.const 0))
  (global $vt (export "vt") (mut i32) (i32.const 0))
  (global $gp (export "p") (mut i32) (i32.const 0))
  (global $gd (export "depth") (mut i32) (i32.const 0))
  (func $fast (export "fast") (param $p i32) (param $end i32) (param $depth i32) (param $max i32) (result i32)
    (local $d i32) (local $t i32) (local $c i32) (local $q i32) (local $n i32) (local $l i32) (local $k i32) (local $kt i32)
    (local $fk i32) (local $fv i32) (local $mk i32) (local $mv i32)
    ;; $be: scratch for the big-endian loads (wasm has no byte swap: two rotations and masks)
    (local $be i32)
    (block $ret
    (loop $outer
      (local.set $d (i32.sub (local.get $depth) (i32.const 1)))
      (if (i32.lt_s (local.get $d) (i32.const 0)) (then (global.set $code (i32.const 0)) (br $ret)))
      (block $value
        (if (i32.eq (i32.load8_u (local.get $d)) (i32.const 1))
          (then
            (loop $fields
              (if (i32.gt_s (i32.add (local.get $p) (i32.const 3)) (local.get $end))
                (then
                  (if (i32.lt_s (local.get $p) (local.get $end))
                    (then (if (i32.eqz (i32.load8_u (local.get $p)))
                      (then (local.set $p (i32.add (local.get $p) (i32.const 1))) (local.set $depth (local.get $d)) (br $outer)))))
                  (global.set $code (i32.const 1)) (br $ret)))
              (local.set $t (i32.load8_u (local.get $p)))
              (local.set $c (i32.load8_u offset=2048 (local.get $t)))
              (if (i32.eq (local.get $c) (i32.const 1))
                (then
                  (local.set $q (i32.add (i32.add (local.get $p) (i32.const 3)) (i32.load8_u offset=2304 (local.get $t))))
                  (if (i32.le_s (local.get $q) (local.get $end)) (then (local.set $p (local.get $q)) (br $fields))))
                (else (if (i32.eq (local.get $c) (i32.const 2))
                  (then
                    (if (i32.le_s (i32.add (local.get $p) (i32.const 7)) (local.get $end))
                      (then
                        (local.set $n (i32.or (i32.and (i32.rotl (local.tee $be (i32.load align=1 (i32.add (local.get $p) (i32.const 3)))) (i32.const 8)) (i32.const 0x00ff00ff))
                          (i32.and (i32.rotr (local.get $be) (i32.const 8)) (i32.const 0xff00ff00))))
                        (if (i32.and (i32.ge_s (local.get $n) (i32.const 0))
                                     (i32.le_s (local.get $n) (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 7))))
                          (then (local.set $p (i32.add (i32.add (local.get $p) (i32.const 7)) (local.get $n))) (br $fields))))))
                  (else (if (i32.eqz (local.get $t))
                    (then (local.set $p (i32.add (local.get $p) (i32.const 1))) (local.set $depth (local.get $d)) (br $outer))
                    (else (if (i32.eqz (local.get $c)) (then (global.set $code (i32.const 1)) (br $ret)))))))))
              (local.set $p (i32.add (local.get $p) (i32.const 3)))
              (br $value)))
          (else
            (local.set $l (i32.load offset=1024 (i32.shl (local.get $d) (i32.const 2))))
            (local.set $k (i32.load8_u (local.get $d)))
            (local.set $kt (i32.load8_u offset=256 (local.get $d)))
            (if (i32.eq (i32.load8_u offset=2048 (local.get $kt)) (i32.const 2))
              (then (if (i32.or (i32.eq (local.get $k) (i32.const 2))
                                (i32.eq (i32.load8_u offset=2048 (i32.load8_u offset=512 (local.get $d))) (i32.const 2)))
                (then
                  (block $sb (loop $sl
                    (br_if $sb (i32.eqz (local.get $l)))
                    (br_if $sb (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $end)))
                    (local.set $n (i32.or (i32.and (i32.rotl (local.tee $be (i32.load align=1 (local.get $p))) (i32.const 8)) (i32.const 0x00ff00ff))
                          (i32.and (i32.rotr (local.get $be) (i32.const 8)) (i32.const 0xff00ff00))))
                    (br_if $sb (i32.lt_s (local.get $n) (i32.const 0)))
                    (br_if $sb (i32.gt_s (local.get $n) (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 4))))
                    (local.set $p (i32.add (i32.add (local.get $p) (i32.const 4)) (local.get $n)))
                    (local.set $l (i32.sub (local.get $l) (i32.const 1)))
                    (br $sl)))))))
            (if (i32.eqz (local.get $l))
              (then (i32.store offset=1024 (i32.shl (local.get $d) (i32.const 2)) (i32.const 0))
                    (local.set $depth (local.get $d)) (br $outer)))
            (i32.store offset=1024 (i32.shl (local.get $d) (i32.const 2)) (i32.sub (local.get $l) (i32.const 1)))
            (local.set $t (select (local.get $kt) (i32.load8_u offset=512 (local.get $d))
                            (i32.or (i32.eq (local.get $k) (i32.const 2)) (i32.eqz (i32.and (local.get $l) (i32.const 1))))))
            (br $value))))
      ;; a value of type $t starts at $p
      (local.set $c (i32.load8_u offset=2048 (local.get $t)))
      (block $slow
        (if (i32.eq (local.get $c) (i32.const 1)) (then
          (local.set $q (i32.add (local.get $p) (i32.load8_u offset=2304 (local.get $t))))
          (if (i32.le_s (local.get $q) (local.get $end)) (then (local.set $p (local.get $q)) (br $outer)))
          (br $slow)))
        (if (i32.eq (local.get $c) (i32.const 2)) (then
          (if (i32.le_s (i32.add (local.get $p) (i32.const 4)) (local.get $end)) (then
            (local.set $n (i32.or (i32.and (i32.rotl (local.tee $be (i32.load align=1 (local.get $p))) (i32.const 8)) (i32.const 0x00ff00ff))
                          (i32.and (i32.rotr (local.get $be) (i32.const 8)) (i32.const 0xff00ff00))))
            (if (i32.and (i32.ge_s (local.get $n) (i32.const 0))
                         (i32.le_s (local.get $n) (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 4))))
              (then (local.set $p (i32.add (i32.add (local.get $p) (i32.const 4)) (local.get $n))) (br $outer)))))
          (br $slow)))
        (if (i32.eq (local.get $c) (i32.const 3)) (then
          (if (i32.lt_s (local.get $depth) (local.get $max)) (then
            (i32.store8 (local.get $depth) (i32.const 1))
            (local.set $depth (i32.add (local.get $depth) (i32.const 1))) (br $outer)))
          (br $slow)))
        (if (i32.eq (local.get $c) (i32.const 4)) (then
          (if (i32.le_s (i32.add (local.get $p) (i32.const 6)) (local.get $end)) (then
            (local.set $mk (i32.load8_u (local.get $p)))
            (local.set $mv (i32.load8_u offset=1 (local.get $p)))
            (local.set $n (i32.or (i32.and (i32.rotl (local.tee $be (i32.load align=1 (i32.add (local.get $p) (i32.const 2)))) (i32.const 8)) (i32.const 0x00ff00ff))
                          (i32.and (i32.rotr (local.get $be) (i32.const 8)) (i32.const 0xff00ff00))))
            (if (i32.and (i32.and (i32.ne (i32.load8_u offset=2048 (local.get $mk)) (i32.const 0))
                                  (i32.ne (i32.load8_u offset=2048 (local.get $mv)) (i32.const 0)))
                         (i32.ge_s (local.get $n) (i32.const 0))) (then
              (local.set $fk (i32.load8_u offset=2304 (local.get $mk)))
              (local.set $fv (i32.load8_u offset=2304 (local.get $mv)))
              (if (i32.and (i32.ne (local.get $fk) (i32.const 0)) (i32.ne (local.get $fv) (i32.const 0)))
                (then
                  (if (i64.le_s (i64.mul (i64.extend_i32_s (local.get $n)) (i64.extend_i32_u (i32.add (local.get $fk) (local.get $fv))))
                                (i64.extend_i32_s (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 6))))
                    (then (local.set $p (i32.add (i32.add (local.get $p) (i32.const 6))
                                                 (i32.mul (local.get $n) (i32.add (local.get $fk) (local.get $fv))))) (br $outer))))
                (else (if (i32.eqz (local.get $n))
                  (then (local.set $p (i32.add (local.get $p) (i32.const 6))) (br $outer))
                  (else (if (i32.lt_s (local.get $depth) (local.get $max)) (then
                    (i32.store8 (local.get $depth) (i32.const 3))
                    (i32.store offset=1024 (i32.shl (local.get $depth) (i32.const 2)) (i32.shl (local.get $n) (i32.const 1)))
                    (i32.store8 offset=256 (local.get $depth) (local.get $mk))
                    (i32.store8 offset=512 (local.get $depth) (local.get $mv))
                    (local.set $depth (i32.add (local.get $depth) (i32.const 1)))
                    (local.set $p (i32.add (local.get $p) (i32.const 6))) (br $outer)))))))))))
          (br $slow)))
        ;; LIST or SET
        (if (i32.le_s (i32.add (local.get $p) (i32.const 5)) (local.get $end)) (then
          (local.set $mk (i32.load8_u (local.get $p)))
          (local.set $n (i32.or (i32.and (i32.rotl (local.tee $be (i32.load align=1 (i32.add (local.get $p) (i32.const 1)))) (i32.const 8)) (i32.const 0x00ff00ff))
                          (i32.and (i32.rotr (local.get $be) (i32.const 8)) (i32.const 0xff00ff00))))
          (if (i32.and (i32.ne (i32.load8_u offset=2048 (local.get $mk)) (i32.const 0)) (i32.ge_s (local.get $n) (i32.const 0))) (then
            (local.set $fk (i32.load8_u offset=2304 (local.get $mk)))
            (if (i32.ne (local.get $fk) (i32.const 0))
              (then
                (if (i64.le_s (i64.mul (i64.extend_i32_s (local.get $n)) (i64.extend_i32_u (local.get $fk)))
                              (i64.extend_i32_s (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 5))))
                  (then (local.set $p (i32.add (i32.add (local.get $p) (i32.const 5)) (i32.mul (local.get $n) (local.get $fk)))) (br $outer))))
              (else (if (i32.eqz (local.get $n))
                (then (local.set $p (i32.add (local.get $p) (i32.const 5))) (br $outer))
                (else (if (i32.lt_s (local.get $depth) (local.get $max)) (then
                  (i32.store8 (local.get $depth) (i32.const 2))
                  (i32.store offset=1024 (i32.shl (local.get $depth) (i32.const 2)) (local.get $n))
                  (i32.store8 offset=256 (local.get $depth) (local.get $mk))
                  (local.set $depth (i32.add (local.get $depth) (i32.const 1)))
                  (local.set $p (i32.add (local.get $p) (i32.const 5))) (br $outer)))))))))))
      ) ;; $slow
      (global.set $code (i32.const 2)) (global.set $vt (local.get $t)) (br $ret)
    )) ;; outer, ret
    (global.set $gp (local.get $p)) (global.set $gd (local.get $depth))
    (global.get $code))

)
