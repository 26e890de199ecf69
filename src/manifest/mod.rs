pub mod ism;
