export { Bitrix24Emulator, startBitrix24Emulator, type EmulatorOptions, type PortalRequest } from './portal.js';
export { PortalState, type PortalUser, type CrmEntity } from './state.js';
